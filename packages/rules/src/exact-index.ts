import { type CompiledCondition, exactHeaderCondition } from './condition';
import type { RequestView } from './request-view';

/** The part of a compiled rule the index reads. */
interface IndexedRule {
  readonly matches: ReadonlyArray<readonly CompiledCondition[]> | null;
}

// Below this many indexed rules, testing the conditions is as cheap as the index.
const MIN_INDEXED_RULES = 4;

/**
 * A prefilter over rules that require an exact header value (`x-user-id: user-7`, a list of test
 * accounts, ...): per header name, a map from value to the rules that could match it. Per request
 * each indexed header is read and looked up once; a rule whose required value is not the request's
 * is skipped without testing its conditions. First-match order is unchanged: the rules are still
 * visited in order, the index only says which ones cannot match.
 */
export class ExactIndex {
  readonly #names: readonly string[];
  readonly #slots: readonly number[];
  readonly #maps: ReadonlyArray<ReadonlyMap<string, Uint8Array>>;
  // Per rule: the index of its filter among #names, or -1 when the rule is not indexed.
  readonly #filterOf: Int32Array;
  // Per request: the rules each filter admits (null: none).
  readonly #admitted: Array<Uint8Array | null>;

  private constructor(
    names: string[],
    slots: number[],
    maps: Array<Map<string, Uint8Array>>,
    filterOf: Int32Array,
  ) {
    this.#names = names;
    this.#slots = slots;
    this.#maps = maps;
    this.#filterOf = filterOf;
    this.#admitted = new Array<Uint8Array | null>(names.length).fill(null);
  }

  /** An index over `rules` (header conditions must have their slots), or null when not worth it. */
  static build(rules: readonly IndexedRule[]): ExactIndex | null {
    const names: string[] = [];
    const slots: number[] = [];
    const maps: Array<Map<string, Uint8Array>> = [];
    const filterOf = new Int32Array(rules.length).fill(-1);
    let indexed = 0;
    rules.forEach((rule, i) => {
      // Only a rule with a single match has a value every match of it requires.
      if (rule.matches === null || rule.matches.length !== 1) return;
      const condition = rule.matches[0]!.find(exactHeaderCondition);
      if (condition === undefined) return;
      let filter = names.indexOf(condition.name);
      if (filter === -1) {
        filter = names.length;
        names.push(condition.name);
        slots.push(condition.slot);
        maps.push(new Map());
      }
      let admitted = maps[filter]!.get(condition.value);
      if (admitted === undefined) {
        admitted = new Uint8Array(rules.length);
        maps[filter]!.set(condition.value, admitted);
      }
      admitted[i] = 1;
      filterOf[i] = filter;
      indexed++;
    });
    return indexed < MIN_INDEXED_RULES ? null : new ExactIndex(names, slots, maps, filterOf);
  }

  /** Reads and looks up each indexed header of the request in `view`. */
  prepare(view: RequestView): void {
    const names = this.#names;
    for (let f = 0; f < names.length; f++) {
      const value = view.headerAt(this.#slots[f]!, names[f]!);
      this.#admitted[f] = value === undefined ? null : (this.#maps[f]!.get(value) ?? null);
    }
  }

  /** False when rule `i` cannot match the prepared request. */
  admits(i: number): boolean {
    const filter = this.#filterOf[i]!;
    if (filter === -1) return true;
    const admitted = this.#admitted[filter]!;
    return admitted !== null && admitted[i] === 1;
  }
}
