// The DFA engine against re2js: same whole-value answer on generated patterns and inputs, and on
// hand-picked patterns where RE2's semantics are easy to get wrong. Patterns outside the DFA's
// syntax, or too large for it, must still answer through re2js.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileRules, MAX_REGEX_WORK, RegexTooCostlyError, rulesFromNginxCanary } from '@graylane/rules';
import { RE2JS } from 're2js';
import { type Random, seeded } from '../../../test/helpers/random';
import { compileWholeMatch } from '../src/regex';
import { DfaMatcher } from '../src/regex-dfa';
import { type CharSet, parseRegex, type RegexNode } from '../src/regex-syntax';

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

// Atoms chosen where RE2 differs from V8 or where a hand-written parser slips: `.` and `\n`,
// negated classes (which match `\n`), `\s` (no `\v`), case-folding orbits (K k U+212A, S s U+017F),
// `]` and `-` in classes, escapes of punctuation, anchors in the middle.
const ATOMS = [
  'a',
  'b',
  'k',
  'S',
  '-',
  ':',
  '/',
  '\u00e9',
  '\u212a',
  '\u{1f600}',
  '.',
  '\\.',
  '\\-',
  '\\d',
  '\\D',
  '\\w',
  '\\W',
  '\\s',
  '\\S',
  '\\n',
  '\\t',
  '\\v',
  '\\*',
  '\\[',
  '\\]',
  '[ab]',
  '[^a]',
  '[a-c]',
  '[]a]',
  '[^]a]',
  '[a-]',
  '[-k]',
  '[\\d.]',
  '[\\W]',
  '[^\\s]',
  '[k-s]',
  '[^:]',
  '[\\]\\-]',
  '[\u00e0-\u00ff]',
  '^',
  '$',
  '\\A',
  '\\z',
  '}',
  ']',
];
const QUANTIFIERS = ['', '', '', '*', '+', '?', '*?', '+?', '??', '{2}', '{0,2}', '{1,}', '{0}', '{2,3}?'];
const GROUPS = [
  (s: string) => `(${s})`,
  (s: string) => `(?:${s})`,
  (s: string) => `(?i:${s})`,
  (s: string) => `(?s:${s})`,
  (s: string) => `(?i)${s}`,
  (s: string) => `(?P<g>${s})`,
  (s: string) => `(?U)${s}`,
  (s: string) => `(?i-s:${s})`,
];

function pattern(random: Random, depth: number): string {
  const parts: string[] = [];
  const length = 1 + Math.floor(random() * 4);
  for (let i = 0; i < length; i++) {
    let atom: string;
    if (depth > 0 && random() < 0.3) atom = pick(random, GROUPS)(alternation(random, depth - 1));
    else atom = pick(random, ATOMS);
    parts.push(atom + pick(random, QUANTIFIERS));
  }
  return parts.join('');
}

function alternation(random: Random, depth: number): string {
  const branches = [pattern(random, depth)];
  while (random() < 0.25) branches.push(random() < 0.15 ? '' : pattern(random, depth));
  return branches.join('|');
}

const INPUT_CHARS = [
  'a',
  'b',
  'A',
  'B',
  'k',
  'K',
  '\u212a',
  's',
  'S',
  '\u017f',
  '-',
  ':',
  '/',
  '.',
  ']',
  '}',
  '*',
  '[',
  '0',
  '7',
  ' ',
  '\n',
  '\r',
  '\t',
  '\v',
  '\f',
  '\u00e9',
  '\u00c9',
  '\u0130',
  '\u0131',
  '_',
  '\u{1f600}',
  '\ud800',
  '\udc00',
  '\u2028',
  '\u00ff',
  '\u0100',
];

/** A string the pattern's parse says matches (when the parser is right), from the syntax tree. */
function sample(random: Random, node: RegexNode): string {
  switch (node.type) {
    case 'chars':
      return String.fromCodePoint(member(random, node.set));
    case 'concat':
      return node.items.map((item) => sample(random, item)).join('');
    case 'alternate':
      return sample(random, pick(random, node.items));
    case 'repeat': {
      const max = node.max === -1 ? node.min + 3 : node.max;
      const count = node.min + Math.floor(random() * (max - node.min + 1));
      return Array.from({ length: count }, () => sample(random, node.item)).join('');
    }
    default:
      return '';
  }
}

function member(random: Random, set: CharSet): number {
  const i = 2 * Math.floor(random() * (set.length / 2));
  const lo = set[i]!;
  const hi = Math.min(set[i + 1]!, lo + 300);
  return lo + Math.floor(random() * (hi - lo + 1));
}

function inputs(random: Random, node: RegexNode | null): string[] {
  const out = ['', 'a', '\n'];
  for (let i = 0; i < 25; i++) {
    const length = Math.floor(random() * 8);
    out.push(Array.from({ length }, () => pick(random, INPUT_CHARS)).join(''));
  }
  if (node !== null) {
    for (let i = 0; i < 25; i++) {
      const s = sample(random, node);
      out.push(s);
      // One character changed, dropped or added: the near misses.
      const at = Math.floor(random() * (s.length + 1));
      out.push(s.slice(0, at) + pick(random, INPUT_CHARS) + s.slice(at + 1));
      out.push(s.slice(0, at) + s.slice(at + 1));
      out.push(s.slice(0, at) + pick(random, INPUT_CHARS) + s.slice(at));
    }
  }
  return out;
}

function compileRe2(source: string): { testExact(input: string): boolean } | null {
  try {
    return RE2JS.compile(source);
  } catch {
    return null;
  }
}

test('the DFA answers as re2js on 3,000 generated patterns and their inputs', (t) => {
  const random = seeded(20260611);
  let patterns = 0;
  let onDfa = 0;
  let comparisons = 0;
  let matches = 0;
  while (patterns < 3000) {
    const source = alternation(random, 2);
    const re2 = compileRe2(source);
    if (re2 === null) continue; // not RE2 (a quantified anchor, `**`, ...): nothing to compare
    patterns++;
    const matcher = compileWholeMatch(source);
    if (!(matcher instanceof DfaMatcher)) continue;
    onDfa++;
    for (const input of inputs(random, parseRegex(source))) {
      const want = re2.testExact(input);
      assert.equal(matcher.testExact(input), want, `${JSON.stringify(source)} on ${JSON.stringify(input)}`);
      comparisons++;
      if (want) matches++;
    }
  }
  t.diagnostic(`${patterns} patterns, ${onDfa} on the DFA, ${comparisons} inputs, ${matches} matched`);
  // The generator must exercise the DFA, with both answers.
  assert.ok(onDfa > 2000, `only ${onDfa} of ${patterns} patterns ran on the DFA`);
  assert.ok(matches > comparisons / 10, `only ${matches} of ${comparisons} inputs matched`);
});

// [pattern, inputs that match, inputs that do not]
const CASES: Array<[string, string[], string[]]> = [
  [
    '(android|ios)-7\\.[0-9]+(\\.[0-9]+)?',
    ['ios-7.2.1', 'android-7.10'],
    ['ios-7.', 'ios-70.1', 'ios-7.2.1.'],
  ],
  ['ab|abc', ['ab', 'abc'], ['a', 'abcd']],
  ['(?i:foo\\.com)(?::[0-9]+)?', ['FOO.com', 'foo.COM:8080'], ['foo.com:', 'fooxcom']],
  ['(?i:/api)(?s:.*)', ['/API', '/api/x\ny'], ['/ap']],
  ['(?i)k', ['k', 'K', '\u212a'], ['\u01e8']],
  ['(?i)[^s]', ['a', '\n'], ['s', 'S', '\u017f']],
  ['(?i)\\W', [' ', '-'], ['k', '\u212a', '\u017f']],
  ['.', ['a', '\u{1f600}', '\ud800', '\r'], ['\n', '', '\u{1f600}x']],
  ['[^a]', ['\n', '\u{1f600}'], ['a', '\ud83d\ude00\ud83d\ude00']],
  ['\\s+', [' \t\n\f\r'], ['\v', '\u00a0']],
  ['a$|b', ['a', 'b'], ['a\n']],
  ['$^', [''], ['x']],
  ['a^b', [], ['ab', 'a^b']],
  ['(^a)*', ['', 'a'], ['aa']],
  ['[]a]+', [']a]'], ['[']],
  ['[a-]x', ['ax', '-x'], ['bx']],
  ['x{2,3}?', ['xx', 'xxx'], ['x', 'xxxx']],
  ['x{0}y', ['y'], ['xy']],
  ['\\Ahello\\z', ['hello'], ['hello\n']],
];

test('hand-picked patterns: the DFA runs them and answers as RE2 does', () => {
  for (const [source, yes, no] of CASES) {
    const matcher = compileWholeMatch(source);
    assert.ok(matcher instanceof DfaMatcher, `${source} should run on the DFA`);
    const re2 = RE2JS.compile(source);
    for (const input of yes) {
      assert.equal(re2.testExact(input), true, `re2js: ${source} on ${JSON.stringify(input)}`);
      assert.equal(matcher.testExact(input), true, `${source} on ${JSON.stringify(input)}`);
    }
    for (const input of no) {
      assert.equal(re2.testExact(input), false, `re2js: ${source} on ${JSON.stringify(input)}`);
      assert.equal(matcher.testExact(input), false, `${source} on ${JSON.stringify(input)}`);
    }
  }
});

test('syntax the DFA does not take, and DFAs past the size limits, run on re2js with the same answers', () => {
  const random = seeded(7);
  const fallbacks = [
    '\\bfoo\\b', // word boundaries
    '\\pL+\\pN', // Unicode classes
    '(?m)^a$', // multi-line anchors
    '\\x41\\x{42}', // hex escapes
    '\\101', // octal
    '[[:alpha:]]+', // POSIX classes
    'a{,2}', // a `{` RE2 reads as a literal
    '\\Qa.b\\E', // quoted text
    '(?i)\u00e9', // case folding beyond ASCII
    '(a|b)*a(a|b){12}', // a DFA of thousands of states
    '(?:[a-z]{0,30}){30}(?:[0-9]{0,30}){30}(?:[A-Z]{0,30}){30}', // an NFA past the node limit
  ];
  for (const source of fallbacks) {
    const matcher = compileWholeMatch(source);
    assert.ok(!(matcher instanceof DfaMatcher), `${source} should run on re2js`);
    const re2 = RE2JS.compile(source);
    for (const input of [...inputs(random, null), 'foo', 'AB', 'a.b', 'a{,2}', 'abababababababab']) {
      assert.equal(matcher.testExact(input), re2.testExact(input), `${source} on ${JSON.stringify(input)}`);
    }
  }
});

test('a pattern that cannot decide in bounded time is refused at load time, naming the pattern and the limit', () => {
  // ingress-nginx `canary-by-header-pattern: (\w+\s?){1000}$` ran 0.5-1 s per decide on re2js.
  const rules = rulesFromNginxCanary(
    {
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-by-header': 'x-tag',
      'nginx.ingress.kubernetes.io/canary-by-header-pattern': '(\\w+\\s?){1000}$',
    },
    { lane: 'canary' },
  );
  assert.throws(
    () => compileRules(rules),
    (err: unknown) => {
      assert.ok(err instanceof RegexTooCostlyError, String(err));
      assert.equal(err.code, 'GL_ERR_REGEX_TOO_COSTLY');
      assert.match(err.path, /^rules\[0\]\.matches\[0\]\.headers\[0\]\.value$/);
      assert.match(err.pattern, /\{1000\}/);
      assert.equal(err.limit, MAX_REGEX_WORK);
      assert.equal(err.maxInputLength, 8192);
      assert.ok(err.programSize * err.maxInputLength > MAX_REGEX_WORK);
      assert.match(err.message, /\(\\\\w\+\\\\s\?\)\{1000\}\$/);
      assert.match(err.message, new RegExp(String(MAX_REGEX_WORK)));
      return true;
    },
  );
  // Written by hand, and on a method or path match, the same.
  for (const match of [
    { headers: [{ name: 'x', type: 'RegularExpression', value: '(\\w+\\s?){1000}$' }] },
    { path: { type: 'RegularExpression', value: '\\b(\\w+\\s?){200}\\b' } },
  ] as const) {
    assert.throws(() => compileRules([{ lane: 'l', matches: [match] }]), { code: 'GL_ERR_REGEX_TOO_COSTLY' });
  }
});

test('the bound is program size times maxInputLength: a smaller input limit admits a larger re2js program', () => {
  // `\b` is outside the DFA's syntax, so this pattern runs on re2js.
  const pattern = '\\b(?:\\w+\\s?){40}\\b';
  const size = RE2JS.compile(pattern).programSize();
  assert.ok(!(compileWholeMatch(pattern) instanceof DfaMatcher));
  const rules = [
    { lane: 'l', matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: pattern }] }] },
  ] as const;
  assert.throws(() => compileRules(rules, { maxInputLength: Math.floor(MAX_REGEX_WORK / size) + 1 }), {
    code: 'GL_ERR_REGEX_TOO_COSTLY',
  });
  const admitted = compileRules(rules, { maxInputLength: Math.floor(MAX_REGEX_WORK / size) });
  assert.equal(admitted.decide({ headers: { x: 'a b c' } }).lane, undefined);
  // Patterns on the DFA cost one lookup per character: accepted at any input limit.
  const dfa = '(?:[a-z]+ ){50,200}';
  assert.ok(compileWholeMatch(dfa) instanceof DfaMatcher);
  compileRules(
    [{ lane: 'l', matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: dfa }] }] }],
    {
      maxInputLength: 1 << 20,
    },
  );
});
