import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { type CompiledRules, type CompileRulesOptions, compileRules } from './compile-rules';
import { RuleSourceError } from './errors';
import { asError } from './internal/caught';
import { liveChannels } from './live-diagnostics';
import type { Rule } from './rule';
import { rulesOfDocument } from './rule-document';
import type { RuleSet, RuleSetProvider } from './rule-set';
import { isRuleSource, type RuleSource, type RuleSourceUpdate } from './rule-source';

/** How a rejected set or a failing source is reported to the logger hook. */
export interface LiveRulesErrorInfo {
  readonly source: string;
  readonly kind: 'invalid' | 'unavailable';
  /** The version still in force. */
  readonly version: number;
}

/** Options of {@link liveRules}. */
export interface LiveRulesOptions extends CompileRulesOptions {
  /** Where rule sets come from. Without it, sets come only from `update()`. */
  readonly source?: RuleSource | undefined;
  /** The set in force until the source delivers its first good one. Default `[]` (every request base). */
  readonly rules?: readonly Rule[] | undefined;
  /**
   * Logger hook: called for every rejected set and every source failure (the last good set stays).
   * Default: none (the failure is still counted, kept for diagnostics and published on
   * `graylane:rules:reject`).
   */
  readonly onError?: ((error: Error, info: LiveRulesErrorInfo) => void) | undefined;
}

const LIVE_RULES_OPTION_KEYS: readonly string[] = Object.keys({
  maxInputLength: 1,
  random: 1,
  source: 1,
  rules: 1,
  onError: 1,
} satisfies Record<keyof LiveRulesOptions, 1>);

/** What {@link LiveRules.status} reports, for diagnostics. */
export interface LiveRulesStatus {
  readonly version: number;
  readonly source: string;
  readonly revision: string | undefined;
  readonly rules: number;
  /** When the set in force was loaded (ISO 8601). */
  readonly lastReloadAt: string;
  /** Accepted sets since start (the initial one included). */
  readonly reloads: number;
  /** Sets rejected as invalid. */
  readonly rejected: number;
  /** Source failures (unreachable, deleted). */
  readonly sourceErrors: number;
  readonly lastError: { readonly message: string; readonly code: string | null; readonly at: string } | null;
}

/**
 * Edge rules that change at run time. Each new set is validated and compiled when it arrives (never
 * on a request) and swapped in with one assignment: `current` always holds one complete
 * {@link RuleSet}. A bad set is rejected: the last good one stays, and the error is counted,
 * kept for diagnostics, passed to `onError` and published on `graylane:rules:reject`.
 *
 * Sticky weights hash the user key with the rule's salt (its lane by default), never with the
 * version: raising a weight from 10 to 30 keeps the first 10% in the lane.
 */
export class LiveRules implements RuleSetProvider {
  readonly #options: CompileRulesOptions;
  readonly #source: RuleSource | undefined;
  readonly #onError: LiveRulesOptions['onError'];
  readonly #checks: Array<(rules: CompiledRules) => void> = [];
  readonly #waiters: Array<() => void> = [];
  #current: RuleSet;
  #reloads = 1;
  #rejected = 0;
  #sourceErrors = 0;
  #lastError: LiveRulesStatus['lastError'] = null;
  #fromSource = false;
  #closed = false;

  /** @internal Use {@link liveRules}. */
  constructor(options: LiveRulesOptions) {
    if (options.source !== undefined && !isRuleSource(options.source)) {
      throw new InvalidOptionError('source', 'expected a rule source ({ name, start, close })');
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new InvalidOptionError('onError', 'expected a function');
    }
    this.#options = { maxInputLength: options.maxInputLength, random: options.random };
    this.#source = options.source;
    this.#onError = options.onError;
    this.#current = Object.freeze({
      version: 1,
      rules: compileRules(options.rules ?? [], this.#options),
      source: 'static',
      revision: undefined,
      loadedAt: Date.now(),
    });
    this.#source?.start((update) => this.#onUpdate(update));
  }

  get current(): RuleSet {
    return this.#current;
  }

  /** The source's name, or `static`. */
  get sourceName(): string {
    return this.#source?.name ?? 'static';
  }

  addCheck(check: (rules: CompiledRules) => void): void {
    if (typeof check !== 'function') throw new InvalidOptionError('check', 'expected a function');
    check(this.#current.rules);
    this.#checks.push(check);
  }

  /**
   * Validates, compiles and swaps in a rule set by hand (a source calls the same path).
   *
   * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` (the set in force stays; the rejection is counted).
   */
  update(rules: readonly Rule[] | unknown, meta: { source?: string; revision?: string } = {}): RuleSet {
    const source = meta.source ?? 'update()';
    let compiled: CompiledRules;
    try {
      compiled = compileRules(rulesOfDocument(rules), this.#options);
      for (const check of this.#checks) check(compiled);
    } catch (error) {
      this.#fail(asError(error), source, 'invalid');
      throw error;
    }
    const next: RuleSet = Object.freeze({
      version: this.#current.version + 1,
      rules: compiled,
      source,
      revision: meta.revision,
      loadedAt: Date.now(),
    });
    this.#current = next;
    this.#reloads++;
    if (liveChannels.reload.hasSubscribers) {
      liveChannels.reload.publish({
        version: next.version,
        source,
        revision: next.revision,
        rules: compiled.size,
      });
    }
    return next;
  }

  /**
   * Resolves with the set in force once the source delivered its first good set (at once without a
   * source); rejects with the latest error after `timeoutMs` (default 10000).
   */
  ready(timeoutMs = 10_000): Promise<RuleSet> {
    if (this.#source === undefined || this.#fromSource) return Promise.resolve(this.#current);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(done);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(
          new RuleSourceError(
            this.sourceName,
            `no good rule set within ${timeoutMs} ms${this.#lastError ? `: ${this.#lastError.message}` : ''}`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        resolve(this.#current);
      };
      this.#waiters.push(done);
    });
  }

  status(): LiveRulesStatus {
    const current = this.#current;
    return {
      version: current.version,
      source: current.source,
      revision: current.revision,
      rules: current.rules.size,
      lastReloadAt: new Date(current.loadedAt).toISOString(),
      reloads: this.#reloads,
      rejected: this.#rejected,
      sourceErrors: this.#sourceErrors,
      lastError: this.#lastError,
    };
  }

  /** Stops the source. The set in force stays usable. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#source?.close();
  }

  #onUpdate(update: RuleSourceUpdate): void {
    if (this.#closed) return;
    const source = this.sourceName;
    if (!update.ok) {
      this.#fail(update.error, source, update.kind);
      return;
    }
    try {
      this.update(update.document, { source, revision: update.revision });
    } catch {
      return; // counted and reported by update()
    }
    if (!this.#fromSource) {
      this.#fromSource = true;
      for (const waiter of this.#waiters.splice(0)) waiter();
    }
  }

  #fail(error: Error, source: string, kind: 'invalid' | 'unavailable'): void {
    if (kind === 'invalid') this.#rejected++;
    else this.#sourceErrors++;
    const code = (error as { code?: unknown }).code;
    this.#lastError = {
      message: error.message,
      code: typeof code === 'string' ? code : null,
      at: new Date().toISOString(),
    };
    const version = this.#current.version;
    if (liveChannels.reject.hasSubscribers) liveChannels.reject.publish({ source, kind, error, version });
    if (this.#onError !== undefined) {
      try {
        this.#onError(error, { source, kind, version });
      } catch {
        // A throwing logger must not stop the source.
      }
    }
  }
}

/**
 * Creates {@link LiveRules}: edge rules fed by a source (file, etcd key, Kubernetes object) or by
 * `update()`, swapped atomically, with the last good set kept on error.
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` for bad initial `rules`.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options.
 * @example
 * const rules = liveRules({ source: fileRuleSource({ path: '/etc/graylane/rules.yaml' }) });
 * await rules.ready();
 * app.use(laneEdge({ rules }));
 */
export function liveRules(options: LiveRulesOptions = {}): LiveRules {
  assertKnownOptions('liveRules()', options, LIVE_RULES_OPTION_KEYS);
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'expected an object');
  return new LiveRules(options);
}
