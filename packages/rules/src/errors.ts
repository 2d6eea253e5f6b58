import { GraylaneError } from '@graylane/core';

/**
 * `GL_ERR_INVALID_RULE`: an edge rule passed to `compileRules()` is malformed. `path` names the bad
 * field, e.g. `rules[2].matches[0].headers[1].type`.
 */
export class InvalidRuleError extends GraylaneError {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`Invalid rule ${path}: ${message}`, 'GL_ERR_INVALID_RULE', options);
    this.name = 'InvalidRuleError';
    this.path = path;
  }
}

/**
 * `GL_ERR_INVALID_IMPORT`: a gateway configuration given to an importer (`rulesFromNginxCanary()`,
 * `rulesFromIstioVirtualService()`, ...) is malformed or uses a feature graylane cannot reproduce.
 * `source` names the system, `path` the bad field, e.g. `spec.http[0].match[1].headers.version.regex`.
 */
export class InvalidImportError extends GraylaneError {
  readonly source: string;
  readonly path: string;

  constructor(source: string, path: string, message: string, options?: { cause?: unknown }) {
    super(`Invalid ${source} configuration at ${path}: ${message}`, 'GL_ERR_INVALID_IMPORT', options);
    this.name = 'InvalidImportError';
    this.source = source;
    this.path = path;
  }
}
