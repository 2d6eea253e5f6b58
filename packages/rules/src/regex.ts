import { MissingPeerError } from '@graylane/core';
import { buildDfa, DfaMatcher } from './regex-dfa';
import { parseRegex } from './regex-syntax';

/** A compiled pattern that tests whole values. */
export interface WholeMatcher {
  testExact(input: string): boolean;
}

interface Re2Pattern extends WholeMatcher {
  programSize(): number;
}

interface Re2Module {
  readonly RE2JS: { compile(pattern: string): Re2Pattern };
}

/**
 * The most work a regular expression that runs on re2js may cost per tested value: its program
 * size (instructions) times `maxInputLength`. re2js runs in time linear in the input, but each
 * character may step every instruction of the program (its NFA); measured worst ~50–60 ns per
 * instruction per character (Node 20 and 24, 2-core AMD EPYC), so this limit keeps one test under
 * ~60 ms however hostile the input. Patterns on graylane's DFA cost one table lookup per character
 * and need no such limit. A pattern over the limit fails `compileRules()` with
 * `GL_ERR_REGEX_TOO_COSTLY`; a smaller `maxInputLength` admits a larger program.
 *
 * @example
 * MAX_REGEX_WORK / 8192; // 128: the largest re2js program accepted at the default maxInputLength
 */
export const MAX_REGEX_WORK = 1 << 20;

let re2: Re2Module | undefined;

// Regular expressions run on re2js, a pure-JavaScript port of RE2: linear time in the input, so no
// pattern can backtrack catastrophically, and the syntax is exactly RE2's (what Istio, Envoy and
// the Gateway API document). It is an optional peer dependency, loaded on the first pattern.
function loadRe2(): Re2Module {
  if (re2 === undefined) {
    try {
      re2 = require('re2js') as Re2Module;
    } catch (err) {
      throw new MissingPeerError('RegularExpression rules', 're2js', { cause: err });
    }
  }
  return re2;
}

/**
 * Checks `pattern` against RE2's syntax without building a matcher. Throws like
 * {@link compileWholeMatch}.
 */
export function checkRegexSyntax(pattern: string): void {
  loadRe2().RE2JS.compile(pattern);
}

/**
 * Compiles an RE2 pattern that must match a whole value. Throws the engine's syntax error as is
 * (callers wrap it in a typed error naming the field), or `MissingPeerError` without re2js.
 *
 * re2js checks the syntax of every pattern. The pattern then runs on a DFA of its own when
 * `regex-syntax.ts` parses it and the DFA stays within its size limits (a lookup per character,
 * several times faster than re2js on short values), and on re2js otherwise. Both are linear in
 * the input; the tests compare them on generated patterns and inputs.
 */
export function compileWholeMatch(pattern: string): WholeMatcher {
  const engine = loadRe2().RE2JS.compile(pattern);
  try {
    const syntax = parseRegex(pattern);
    return (syntax === null ? null : buildDfa(syntax)) ?? engine;
  } catch {
    // re2js accepted the pattern, so it is valid whatever went wrong here (a stack overflow on
    // deep nesting, say): it runs on re2js.
    return engine;
  }
}

/**
 * The work bound of a compiled matcher per input character: 0 for graylane's DFA (one lookup),
 * re2js's program size otherwise.
 */
export function regexWorkPerCharacter(matcher: WholeMatcher): number {
  if (matcher instanceof DfaMatcher) return 0;
  return (matcher as Re2Pattern).programSize();
}

const RE2_META = /[\\.+*?()|[\]{}^$]/g;

/** Escapes `text` so it matches itself literally in an RE2 pattern. */
export function quoteRegex(text: string): string {
  return text.replace(RE2_META, '\\$&');
}
