import { MissingPeerError } from '../errors';

/** A compiled pattern that tests whole values. */
export interface WholeMatcher {
  testExact(input: string): boolean;
}

interface Re2Module {
  readonly RE2JS: { compile(pattern: string): WholeMatcher };
}

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
 * Compiles an RE2 pattern that must match a whole value. Throws the engine's syntax error as is
 * (callers wrap it in a typed error naming the field), or `MissingPeerError` without re2js.
 */
export function compileWholeMatch(pattern: string): WholeMatcher {
  return loadRe2().RE2JS.compile(pattern);
}

const RE2_META = /[\\.+*?()|[\]{}^$]/g;

/** Escapes `text` so it matches itself literally in an RE2 pattern. */
export function quoteRegex(text: string): string {
  return text.replace(RE2_META, '\\$&');
}
