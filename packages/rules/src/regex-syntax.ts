/**
 * A parser for the part of RE2 syntax the DFA engine (`regex-dfa.ts`) runs: literals, `.`,
 * bracket classes, `\d \s \w` (and negations), the usual C escapes, groups (`(…)`, `(?:…)`, named),
 * alternation, `* + ? {n} {n,} {n,m}` (lazy or not: the same language), `^ $ \A \z`, and the
 * flags `i` (ASCII letters only), `s` and `U`. It reads patterns re2js has already accepted and
 * gives up — returns `null`, so re2js runs the pattern — on everything else: `\b`, `\p{…}`, POSIX
 * classes, `\x`, octal, `\Q…\E`, `(?m)`, case folding beyond ASCII, a `{` that is not a repeat.
 *
 * The semantics are RE2's with its Perl flags (what re2js compiles by default): `.` is any code
 * point but `\n`, `$` is the end of the text, a negated class matches `\n`, `\s` is `[\t\n\f\r ]`.
 * @internal
 */

/** Code points as sorted, disjoint, non-adjacent inclusive pairs: `[lo0, hi0, lo1, hi1, …]`. */
export type CharSet = readonly number[];

export type RegexNode =
  | { readonly type: 'chars'; readonly set: CharSet }
  | { readonly type: 'concat'; readonly items: readonly RegexNode[] }
  | { readonly type: 'alternate'; readonly items: readonly RegexNode[] }
  /** `max` -1: unbounded. */
  | { readonly type: 'repeat'; readonly item: RegexNode; readonly min: number; readonly max: number }
  | { readonly type: 'begin' }
  | { readonly type: 'end' };

export const MAX_CODE_POINT = 0x10ffff;

const DIGIT: CharSet = [0x30, 0x39];
const SPACE: CharSet = [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20];
const WORD: CharSet = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
const PERL_CLASSES: Readonly<Record<string, CharSet>> = { d: DIGIT, s: SPACE, w: WORD };
const NOT_NEWLINE: CharSet = [0, 0x09, 0x0b, MAX_CODE_POINT];
const C_ESCAPES: Readonly<Record<string, number>> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
// The two non-ASCII members of ASCII letters' case-folding orbits: K k U+212A, S s U+017F.
const KELVIN = 0x212a;
const LONG_S = 0x17f;

/** Sorts and merges `[lo, hi, …]` pairs into a {@link CharSet}. */
export function normalize(pairs: number[]): CharSet {
  const order: Array<[number, number]> = [];
  for (let i = 0; i < pairs.length; i += 2) order.push([pairs[i]!, pairs[i + 1]!]);
  order.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of order) {
    if (out.length > 0 && lo <= out[out.length - 1]! + 1) {
      out[out.length - 1] = Math.max(out[out.length - 1]!, hi);
    } else out.push(lo, hi);
  }
  return out;
}

/** Every code point not in `set`. */
export function negate(set: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    if (set[i]! > next) out.push(next, set[i]! - 1);
    next = set[i + 1]! + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

/** `set` closed under ASCII case folding, or null when it holds a non-ASCII code point. */
function foldAscii(set: CharSet): CharSet | null {
  const pairs = [...set];
  for (let i = 0; i < set.length; i += 2) {
    if (set[i + 1]! > 0x7f) return null;
    for (let c = set[i]!; c <= set[i + 1]!; c++) {
      const lower = c | 0x20;
      if (lower < 0x61 || lower > 0x7a) continue;
      pairs.push(lower, lower, lower - 0x20, lower - 0x20);
      if (lower === 0x6b) pairs.push(KELVIN, KELVIN);
      if (lower === 0x73) pairs.push(LONG_S, LONG_S);
    }
  }
  return normalize(pairs);
}

const FOLD = 1;
const DOT_NL = 2;

/** Thrown inside the parser for syntax it does not take on; caught by {@link parseRegex}. */
class Unsupported {}
const UNSUPPORTED = new Unsupported();

class Parser {
  readonly #src: string;
  #pos = 0;
  #flags = 0;

  constructor(src: string) {
    this.#src = src;
  }

  parse(): RegexNode {
    const node = this.#alternation();
    if (this.#pos !== this.#src.length) throw UNSUPPORTED; // a stray `)`: re2js rejects it
    return node;
  }

  #peek(offset = 0): number {
    const at = this.#pos + offset;
    return at < this.#src.length ? this.#src.charCodeAt(at) : -1;
  }

  /** The code point at the cursor, consumed. */
  #next(): number {
    const c = this.#src.codePointAt(this.#pos);
    if (c === undefined) throw UNSUPPORTED;
    this.#pos += c > 0xffff ? 2 : 1;
    return c;
  }

  #alternation(): RegexNode {
    const items = [this.#concat()];
    while (this.#peek() === 0x7c /* | */) {
      this.#pos++;
      items.push(this.#concat());
    }
    return items.length === 1 ? items[0]! : { type: 'alternate', items };
  }

  #concat(): RegexNode {
    const items: RegexNode[] = [];
    for (;;) {
      const c = this.#peek();
      if (c === -1 || c === 0x7c || c === 0x29 /* ) */) break;
      const atom = this.#atom();
      if (atom !== null) items.push(this.#quantified(atom));
    }
    return items.length === 1 ? items[0]! : { type: 'concat', items };
  }

  #quantified(atom: RegexNode): RegexNode {
    let min: number;
    let max: number;
    switch (this.#peek()) {
      case 0x2a /* * */:
        [min, max] = [0, -1];
        this.#pos++;
        break;
      case 0x2b /* + */:
        [min, max] = [1, -1];
        this.#pos++;
        break;
      case 0x3f /* ? */:
        [min, max] = [0, 1];
        this.#pos++;
        break;
      case 0x7b /* { */:
        {
          const m = /^\{(0|[1-9][0-9]{0,3})(,(0|[1-9][0-9]{0,3})?)?\}/.exec(this.#src.slice(this.#pos));
          if (m === null) throw UNSUPPORTED; // RE2 reads some of these as a literal `{`
          min = Number(m[1]);
          max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
          this.#pos += m[0].length;
          break;
        }
      default:
        return atom;
    }
    if (this.#peek() === 0x3f) this.#pos++; // lazy: same language
    const after = this.#peek();
    if (after === 0x2a || after === 0x2b || after === 0x3f || after === 0x7b) throw UNSUPPORTED;
    return { type: 'repeat', item: atom, min, max };
  }

  /** One atom, or null for a flag group such as `(?i)` that only changes the flags. */
  #atom(): RegexNode | null {
    const c = this.#next();
    switch (c) {
      case 0x28 /* ( */:
        return this.#group();
      case 0x5b /* [ */:
        return { type: 'chars', set: this.#bracket() };
      case 0x2e /* . */:
        return { type: 'chars', set: this.#flags & DOT_NL ? [0, MAX_CODE_POINT] : NOT_NEWLINE };
      case 0x5e /* ^ */:
        return { type: 'begin' };
      case 0x24 /* $ */:
        return { type: 'end' };
      case 0x5c /* \ */:
        {
          const e = this.#peek();
          if (e === 0x41 /* A */ || e === 0x7a /* z */) {
            this.#pos++;
            return { type: e === 0x41 ? 'begin' : 'end' };
          }
          const perl = this.#perlClass();
          if (perl !== null) return { type: 'chars', set: perl };
          const escaped = this.#escape();
          return { type: 'chars', set: this.#fold([escaped, escaped]) };
        }
      case 0x2a:
      case 0x2b:
      case 0x3f:
      case 0x7b:
      case 0x29:
        throw UNSUPPORTED; // re2js rejects these here, or reads `{` as a literal
      default:
        return { type: 'chars', set: this.#fold([c, c]) };
    }
  }

  /** `set` closed under case folding while the `i` flag is on. */
  #fold(set: CharSet): CharSet {
    if (!(this.#flags & FOLD)) return set;
    const folded = foldAscii(set);
    if (folded === null) throw UNSUPPORTED;
    return folded;
  }

  #group(): RegexNode | null {
    const saved = this.#flags;
    if (this.#peek() === 0x3f /* ? */) {
      this.#pos++;
      const named = /^P?<[A-Za-z0-9_]+>/.exec(this.#src.slice(this.#pos));
      if (named !== null) this.#pos += named[0].length;
      else if (this.#readFlags()) return null; // `(?flags)`: they hold to the end of the group
    }
    const body = this.#alternation();
    if (this.#next() !== 0x29) throw UNSUPPORTED;
    this.#flags = saved;
    return body;
  }

  /** Reads `flags)` (returns true) or `flags:` (returns false) after `(?`. */
  #readFlags(): boolean {
    let on = true;
    for (;;) {
      const c = this.#next();
      if (c === 0x69 /* i */ || c === 0x73 /* s */) {
        const bit = c === 0x69 ? FOLD : DOT_NL;
        this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
      } else if (c === 0x55 /* U */) {
        // Ungreedy: changes which match is reported, not whether there is one.
      } else if (c === 0x2d /* - */ && on) on = false;
      else if (c === 0x29) return true;
      else if (c === 0x3a /* : */) return false;
      else throw UNSUPPORTED; // `m`, or syntax re2js would have rejected
    }
  }

  /** `\d \s \w \D \S \W` after a backslash, consumed and folded; null for another escape. */
  #perlClass(): CharSet | null {
    const e = this.#peek();
    const set = e === -1 ? undefined : PERL_CLASSES[String.fromCharCode(e | 0x20)];
    if (set === undefined) return null;
    this.#pos++;
    // A negated class is folded first, then complemented (as RE2 does).
    return e >= 0x61 ? this.#fold(set) : negate(this.#fold(set));
  }

  /** The code point of a single-character escape after a backslash. */
  #escape(): number {
    const c = this.#next();
    if (c < 0x80 && !isAlnum(c)) return c;
    const known = c < 0x80 ? C_ESCAPES[String.fromCharCode(c)] : undefined;
    if (known === undefined) throw UNSUPPORTED;
    return known;
  }

  /** The set of a bracket class after `[`, up to and including `]`. */
  #bracket(): CharSet {
    const negated = this.#peek() === 0x5e;
    if (negated) this.#pos++;
    const pairs: number[] = [];
    // `]` first is a literal; each item is folded on its own, the union negated last (as RE2 does).
    for (let first = true; first || this.#peek() !== 0x5d; first = false) {
      if (this.#peek() === -1) throw UNSUPPORTED;
      if (this.#peek() === 0x5b && this.#peek(1) === 0x3a) throw UNSUPPORTED; // [:alpha:]
      if (this.#peek() === 0x5c) {
        this.#pos++;
        const perl = this.#perlClass();
        if (perl !== null) {
          pairs.push(...perl);
          continue;
        }
        this.#pos--;
      }
      const lo = this.#classChar();
      let hi = lo;
      // `-` before `]` is a literal.
      if (this.#peek() === 0x2d && this.#peek(1) !== 0x5d && this.#peek(1) !== -1) {
        this.#pos++;
        hi = this.#classChar();
        if (hi < lo) throw UNSUPPORTED;
      }
      pairs.push(...this.#fold([lo, hi]));
    }
    this.#pos++; // ]
    const set = normalize(pairs);
    return negated ? negate(set) : set;
  }

  #classChar(): number {
    const c = this.#next();
    return c === 0x5c ? this.#escape() : c;
  }
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * Parses `pattern` (already accepted by re2js) into a {@link RegexNode}, or returns null when it
 * uses syntax this parser leaves to re2js.
 */
export function parseRegex(pattern: string): RegexNode | null {
  try {
    return new Parser(pattern).parse();
  } catch (err) {
    if (err === UNSUPPORTED) return null;
    throw err;
  }
}
