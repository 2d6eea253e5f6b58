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

/**
 * `GL_ERR_RULE_SOURCE`: a rule source could not deliver a rule set — the file is missing or not
 * JSON/YAML, etcd or the Kubernetes API server is unreachable, the watched object is gone. The
 * last good rule set stays in force. `source` names the source (`file:/etc/rules.yaml`).
 */
export class RuleSourceError extends GraylaneError {
  readonly source: string;

  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super(`Rule source ${source}: ${message}`, 'GL_ERR_RULE_SOURCE', options);
    this.name = 'RuleSourceError';
    this.source = source;
  }
}

/**
 * `GL_ERR_INVALID_PLAN`: a release plan given to `releasePlan()` is malformed (unknown step,
 * weight outside 0..100, bad pause duration, bad analysis thresholds). `path` names the field,
 * e.g. `steps[3].pause.duration`.
 */
export class InvalidPlanError extends GraylaneError {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`Invalid release plan ${path}: ${message}`, 'GL_ERR_INVALID_PLAN', options);
    this.name = 'InvalidPlanError';
    this.path = path;
  }
}

/**
 * `GL_ERR_PLAN_STORE`: a release plan's shared state could not be read or written (etcd
 * unreachable, or too many concurrent writers), or an operation is not possible in the plan's
 * current phase (`retry` of a plan that is not aborted). The plan's state is unchanged.
 */
export class PlanStoreError extends GraylaneError {
  readonly plan: string;

  constructor(plan: string, message: string, options?: { cause?: unknown }) {
    super(`Release plan ${plan}: ${message}`, 'GL_ERR_PLAN_STORE', options);
    this.name = 'PlanStoreError';
    this.plan = plan;
  }
}

/**
 * `GL_ERR_REGEX_TOO_COSTLY`: a regular expression of a rule cannot be shown to run in the bounded
 * time every accepted pattern must keep. It is too large for graylane's DFA, and on re2js its
 * program (`programSize` instructions) times the longest input (`maxInputLength`) exceeds
 * `limit` (`MAX_REGEX_WORK`). `path` names the field and `pattern` the expression.
 *
 * @example
 * try { compileRules(rules); } catch (err) {
 *   if (err.code === 'GL_ERR_REGEX_TOO_COSTLY') console.error(err.pattern, err.programSize, err.limit);
 * }
 */
export class RegexTooCostlyError extends GraylaneError {
  readonly path: string;
  readonly pattern: string;
  readonly programSize: number;
  readonly maxInputLength: number;
  readonly limit: number;

  constructor(path: string, pattern: string, programSize: number, maxInputLength: number, limit: number) {
    const shown = pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern;
    super(
      `Invalid rule ${path}: the regular expression ${JSON.stringify(shown)} is too large for the DFA ` +
        `engine, and on re2js its ${programSize}-instruction program times maxInputLength ` +
        `${maxInputLength} exceeds the limit of ${limit} (MAX_REGEX_WORK); simplify it or lower ` +
        `maxInputLength to at most ${Math.floor(limit / programSize)}`,
      'GL_ERR_REGEX_TOO_COSTLY',
    );
    this.name = 'RegexTooCostlyError';
    this.path = path;
    this.pattern = pattern;
    this.programSize = programSize;
    this.maxInputLength = maxInputLength;
    this.limit = limit;
  }
}
