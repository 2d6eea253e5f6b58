import { type CharSet, MAX_CODE_POINT, type RegexNode } from './regex-syntax';

/**
 * Whole-value matching on a DFA built at compile time: one table lookup per character, linear
 * in the input by construction (no backtracking, nothing to blow up at match time). Built only
 * for patterns `regex-syntax.ts` parses; a pattern whose DFA would be too large is left to re2js.
 * @internal
 */

/** NFA size past which the pattern is left to re2js (a `{n,m}` copies its operand). */
const MAX_NFA_NODES = 4096;
/** DFA size past which the pattern is left to re2js: states, and table entries (4 bytes each). */
const MAX_DFA_STATES = 1024;
const MAX_TABLE_ENTRIES = 1 << 16;
/** Node visits the construction may spend before it gives the pattern to re2js. */
const MAX_BUILD_STEPS = 1 << 21;

// NFA node kinds (Thompson construction).
const CHAR = 0;
const SPLIT = 1;
const BEGIN = 2;
const END = 3;
const MATCH = 4;

class Nfa {
  readonly kind: number[] = [];
  readonly out: number[] = [];
  readonly out2: number[] = [];
  readonly sets: Array<CharSet | null> = [];

  add(kind: number, out: number, out2 = -1, set: CharSet | null = null): number {
    if (this.kind.length >= MAX_NFA_NODES) throw TOO_LARGE;
    this.kind.push(kind);
    this.out.push(out);
    this.out2.push(out2);
    this.sets.push(set);
    return this.kind.length - 1;
  }

  /** Compiles `node` to run before `next`; returns its entry node. */
  compile(node: RegexNode, next: number): number {
    switch (node.type) {
      case 'chars':
        return this.add(CHAR, next, -1, node.set);
      case 'begin':
        return this.add(BEGIN, next);
      case 'end':
        return this.add(END, next);
      case 'concat': {
        let entry = next;
        for (let i = node.items.length - 1; i >= 0; i--) entry = this.compile(node.items[i]!, entry);
        return entry;
      }
      case 'alternate': {
        let entry = this.compile(node.items[node.items.length - 1]!, next);
        for (let i = node.items.length - 2; i >= 0; i--) {
          entry = this.add(SPLIT, this.compile(node.items[i]!, next), entry);
        }
        return entry;
      }
      case 'repeat':
        return this.#repeat(node.item, node.min, node.max, next);
    }
  }

  #repeat(item: RegexNode, min: number, max: number, next: number): number {
    let entry = next;
    if (max === -1) {
      // item*: a loop through a split; item+ below is one copy followed by item*.
      const loop = this.add(SPLIT, -1, next);
      this.out[loop] = this.compile(item, loop);
      entry = loop;
    } else {
      // Optional copies, nested: (item(item)?)? for two.
      for (let i = min; i < max; i++) entry = this.add(SPLIT, this.compile(item, entry), next);
    }
    for (let i = 0; i < min; i++) entry = this.compile(item, entry);
    return entry;
  }
}

class TooLarge {}
const TOO_LARGE = new TooLarge();

/**
 * A compiled pattern that tests whole values on a DFA. Internal; its fields are plain and
 * `declare`d (assigned in the constructor, not defined as class fields first): on Node 20 both
 * `#private` fields and class-field definitions made each test ~10 ns slower.
 */
export class DfaMatcher {
  // Set once, in the constructor.
  /** Per state and class, the next state's row offset (state * classes), or -1 when dead. */
  declare table: Int32Array;
  declare classes: number;
  /** The class of each code point below 256 (header values are Latin-1). */
  declare latin1: Uint16Array;
  /** `bounds[k]` is the first code point of class k. */
  declare bounds: Int32Array;
  declare accept: Uint8Array;
  /** The start row, -1 when nothing matches. */
  declare start: number;

  constructor(
    table: Int32Array,
    classes: number,
    latin1: Uint16Array,
    bounds: Int32Array,
    accept: Uint8Array,
    start: number,
  ) {
    this.table = table;
    this.classes = classes;
    this.latin1 = latin1;
    this.bounds = bounds;
    this.accept = accept;
    this.start = start;
  }

  /** True when the whole of `input` matches. Code points as re2js reads UTF-16 (lone surrogates as themselves). */
  testExact(input: string): boolean {
    const table = this.table;
    const latin1 = this.latin1;
    const length = input.length;
    let row = this.start;
    if (row < 0) return false;
    for (let i = 0; i < length; i++) {
      const c = input.charCodeAt(i);
      // Out of line, so the Latin-1 loop stays tight.
      if (c >= 256) return testWide(this, input, i, row);
      row = table[row + latin1[c]!]!;
      if (row < 0) return false;
    }
    return this.accept[row / this.classes] === 1;
  }
}

/** {@link DfaMatcher.testExact} from index `i` in row `row`, reading whole code points. */
function testWide(dfa: DfaMatcher, input: string, i: number, row: number): boolean {
  const length = input.length;
  for (; i < length && row >= 0; i++) {
    let c = input.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < length) {
      const low = input.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = (c - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
        i++;
      }
    }
    row = dfa.table[row + (c < 256 ? dfa.latin1[c]! : classOf(dfa.bounds, c))]!;
  }
  return row >= 0 && dfa.accept[row / dfa.classes] === 1;
}

/** The class of `c`: the last `k` with `bounds[k] <= c`. */
function classOf(bounds: Int32Array, c: number): number {
  let lo = 0;
  let hi = bounds.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (bounds[mid]! <= c) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Splits the code points into classes no CHAR node tells apart: `bounds[k]` starts class k. */
function alphabet(nfa: Nfa): Int32Array {
  const cuts = new Set<number>([0]);
  for (const set of nfa.sets) {
    if (set === null) continue;
    for (let i = 0; i < set.length; i += 2) {
      cuts.add(set[i]!);
      if (set[i + 1]! < MAX_CODE_POINT) cuts.add(set[i + 1]! + 1);
    }
  }
  return Int32Array.from([...cuts].sort((a, b) => a - b));
}

function contains(set: CharSet, c: number): boolean {
  for (let i = 0; i < set.length; i += 2) if (c >= set[i]! && c <= set[i + 1]!) return true;
  return false;
}

/**
 * The nodes reachable from `roots` without reading a character: CHAR, END (it passes only at
 * the end of the input, so it is kept as pending) and MATCH nodes, sorted. BEGIN passes only
 * when `atStart`. Each visit is charged to `budget`.
 */
function closure(nfa: Nfa, roots: readonly number[], atStart: boolean, budget: Budget): number[] {
  const seen = new Set<number>();
  const kept: number[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n < 0 || seen.has(n)) continue;
    if (--budget.steps < 0) throw TOO_LARGE;
    seen.add(n);
    const kind = nfa.kind[n]!;
    if (kind === SPLIT) stack.push(nfa.out2[n]!, nfa.out[n]!);
    else if (kind === BEGIN) {
      if (atStart) stack.push(nfa.out[n]!);
    } else kept.push(n);
  }
  return kept.sort((a, b) => a - b);
}

interface Budget {
  steps: number;
}

/** Whether a state holding `nodes` accepts when the input ends there. */
function accepts(nfa: Nfa, nodes: readonly number[], atStart: boolean): boolean {
  const seen = new Set<number>();
  const stack = [...nodes];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n < 0 || seen.has(n)) continue;
    seen.add(n);
    const kind = nfa.kind[n]!;
    if (kind === MATCH) return true;
    if (kind === SPLIT) stack.push(nfa.out2[n]!, nfa.out[n]!);
    else if (kind === END || (kind === BEGIN && atStart)) stack.push(nfa.out[n]!);
  }
  return false;
}

/**
 * Builds the DFA of `node` (subset construction over a Thompson NFA), or returns null when it
 * would pass the size limits.
 */
export function buildDfa(node: RegexNode): DfaMatcher | null {
  try {
    return build(node);
  } catch (err) {
    if (err === TOO_LARGE) return null;
    throw err;
  }
}

function build(node: RegexNode): DfaMatcher {
  const nfa = new Nfa();
  const entry = nfa.compile(node, nfa.add(MATCH, -1));
  const bounds = alphabet(nfa);
  const classes = bounds.length;
  if (classes > MAX_TABLE_ENTRIES / 64) throw TOO_LARGE;
  const budget: Budget = { steps: MAX_BUILD_STEPS };
  // Per class, the CHAR nodes that read it.
  const readers: number[][] = Array.from({ length: classes }, () => []);
  for (let n = 0; n < nfa.kind.length; n++) {
    if (nfa.kind[n] !== CHAR) continue;
    budget.steps -= classes;
    for (let k = 0; k < classes; k++) if (contains(nfa.sets[n]!, bounds[k]!)) readers[k]!.push(n);
  }

  // The start state is never shared: it alone lets BEGIN pass.
  const states: number[][] = [closure(nfa, [entry], true, budget)];
  const ids = new Map<string, number>();
  const rows: number[] = [];
  for (let s = 0; s < states.length; s++) {
    if (states.length > MAX_DFA_STATES || states.length * classes > MAX_TABLE_ENTRIES) throw TOO_LARGE;
    const members = new Set(states[s]);
    for (let k = 0; k < classes; k++) {
      const targets: number[] = [];
      for (const n of readers[k]!) if (members.has(n)) targets.push(nfa.out[n]!);
      if (targets.length === 0) {
        rows.push(-1);
        continue;
      }
      const nodes = closure(nfa, targets, false, budget);
      const key = nodes.join(',');
      let id = ids.get(key);
      if (id === undefined) {
        id = states.length;
        states.push(nodes);
        ids.set(key, id);
      }
      rows.push(id);
    }
  }
  const accept = Uint8Array.from(states, (nodes, s) => (accepts(nfa, nodes, s === 0) ? 1 : 0));
  const table = Int32Array.from(rows);
  const start = pruneDead(table, classes, accept);
  const latin1 = Uint16Array.from({ length: 256 }, (_, c) => classOf(bounds, c));
  return new DfaMatcher(table, classes, latin1, bounds, accept, start);
}

/**
 * Turns the state numbers of `table` into row offsets (state * classes), and points every
 * transition into a state that can no longer reach an accepting one at -1, so a value that
 * cannot match is rejected as soon as that is certain. Returns the start row (-1 when nothing
 * matches at all).
 */
function pruneDead(table: Int32Array, classes: number, accept: Uint8Array): number {
  const count = accept.length;
  const live = Uint8Array.from(accept);
  for (let changed = true; changed; ) {
    changed = false;
    for (let s = 0; s < count; s++) {
      if (live[s] === 1) continue;
      for (let k = 0; k < classes; k++) {
        const t = table[s * classes + k]!;
        if (t >= 0 && live[t] === 1) {
          live[s] = 1;
          changed = true;
          break;
        }
      }
    }
  }
  for (let i = 0; i < table.length; i++) {
    const t = table[i]!;
    table[i] = t >= 0 && live[t] === 1 ? t * classes : -1;
  }
  return live[0] === 1 ? 0 : -1;
}
