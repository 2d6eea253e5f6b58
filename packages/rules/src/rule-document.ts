import { InvalidOptionError, MissingPeerError } from '@graylane/core';
import { InvalidRuleError } from './errors';
import { errorCode } from './internal/caught';
import type { Rule } from './rule';
import { describeValue, isRecord } from './validate';

/** How a rule document's text is read. `auto`: JSON when it starts with `[` or `{`, else YAML. */
export type RuleDocumentFormat = 'json' | 'yaml' | 'auto';

/**
 * Parses the text of a rule document (JSON, or YAML with the optional `yaml` peer).
 *
 * @throws {SyntaxError} for malformed JSON or YAML.
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` for YAML without the `yaml` package.
 * @example
 * parseRuleDocument('rules:\n  - { lane: gray, weight: 10 }', 'yaml'); // { rules: [...] }
 */
export function parseRuleDocument(text: string, format: RuleDocumentFormat = 'auto'): unknown {
  const trimmed = text.trimStart();
  const json =
    format === 'json' || (format === 'auto' && (trimmed.startsWith('[') || trimmed.startsWith('{')));
  if (json) return JSON.parse(text);
  let yaml: typeof import('yaml');
  try {
    yaml = require('yaml') as typeof import('yaml');
  } catch (error) {
    if (errorCode(error) === 'MODULE_NOT_FOUND')
      throw new MissingPeerError('YAML rule documents', 'yaml', { cause: error });
    throw error;
  }
  return yaml.parse(text);
}

/**
 * The rules of a document: the document itself when it is an array, else its `rules` field.
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` when there is no rule list.
 * @example
 * rulesOfDocument({ rules: [{ lane: 'gray', weight: 10 }] }); // [{ lane: 'gray', weight: 10 }]
 */
export function rulesOfDocument(document: unknown): readonly Rule[] {
  if (Array.isArray(document)) return document as Rule[];
  if (isRecord(document) && Array.isArray(document.rules)) return document.rules as Rule[];
  throw new InvalidRuleError(
    'rules',
    `expected an array of rules or { rules: [...] }, got ${describeValue(document)}`,
  );
}

/** @internal Validates a `format` option. */
export function checkFormat(format: unknown, name: string): RuleDocumentFormat {
  if (format === undefined) return 'auto';
  if (format !== 'json' && format !== 'yaml' && format !== 'auto') {
    throw new InvalidOptionError(name, `expected 'json', 'yaml' or 'auto', got ${describeValue(format)}`);
  }
  return format;
}
