import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { assertKnownOptions, InvalidOptionError, type Lane, parseLane } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';
import { type CompiledRules, type CompileRulesOptions, compileRules } from './compile-rules';
import { InvalidPlanError, PlanStoreError } from './errors';
import { asError, describeError } from './internal/caught';
import {
  type AnalysisOptions,
  type AnalysisVerdict,
  type CompiledAnalysis,
  compileAnalysis,
  judge,
  LaneCounter,
  type LaneFigures,
} from './lane-analysis';
import { liveChannels } from './live-diagnostics';
import { type CompiledStep, compileSteps, type PlanStep } from './plan-steps';
import { memoryPlanStore, type PlanState, type PlanStore, type StoredPlan } from './plan-store';
import type { Rule, RuleMatch, StickyKey } from './rule';
import type { RuleSet, RuleSetProvider } from './rule-set';

/** How often a replica re-reads the shared state even without a watch event, ms (the apply bound). */
export const DEFAULT_PLAN_RESYNC_INTERVAL_MS = 1_000;
/** How often a replica checks timed pauses and analysis, ms. */
export const DEFAULT_PLAN_TICK_INTERVAL_MS = 100;
/** Compare-and-set attempts of one operation before it fails with `GL_ERR_PLAN_STORE`. */
export const PLAN_WRITE_ATTEMPTS = 10;

/** Options of {@link releasePlan}. */
export interface ReleasePlanOptions extends CompileRulesOptions {
  /** The plan's name: its key in the store, and its label in diagnostics. Required. */
  readonly name: string;
  /** The lane being released. Required. */
  readonly lane: Lane;
  /** The steps, walked in order (see {@link PlanStep}). Required. */
  readonly steps: readonly PlanStep[];
  /** Hash this key so each user stays on one side of the weight as it rises. Default: random draws. */
  readonly sticky?: StickyKey | undefined;
  /** The traffic the weight applies to (OR of ANDs, as in a rule). Default: every request. */
  readonly matches?: readonly RuleMatch[] | undefined;
  /**
   * Rules tried after the plan's own (other lanes, fixed routes). When the plan aborts, those that
   * route into the plan's lane are turned off too. Default `[]`.
   */
  readonly rules?: readonly Rule[] | undefined;
  /**
   * Background analysis, checked while the plan progresses or pauses (as Argo's background
   * analysis): a breach aborts the plan. Default: none.
   */
  readonly analysis?: AnalysisOptions | undefined;
  /** Where the position lives. Default `memoryPlanStore()` (this process only). */
  readonly store?: PlanStore | undefined;
  /** This replica's name, written with each state change. Default `<hostname>/<pid>`. */
  readonly replica?: string | undefined;
  /** Default {@link DEFAULT_PLAN_RESYNC_INTERVAL_MS} (1000). */
  readonly resyncIntervalMs?: number | undefined;
  /** Default {@link DEFAULT_PLAN_TICK_INTERVAL_MS} (100). */
  readonly tickIntervalMs?: number | undefined;
  /** Logger hook for store failures and aborts. Default: none. */
  readonly onError?: ((error: Error) => void) | undefined;
}

const RELEASE_PLAN_OPTION_KEYS: readonly string[] = Object.keys({
  maxInputLength: 1,
  random: 1,
  name: 1,
  lane: 1,
  steps: 1,
  sticky: 1,
  matches: 1,
  rules: 1,
  analysis: 1,
  store: 1,
  replica: 1,
  resyncIntervalMs: 1,
  tickIntervalMs: 1,
  onError: 1,
} satisfies Record<keyof ReleasePlanOptions, 1>);

/** A plan's state as diagnostics and the admin endpoint show it. */
export interface PlanStatus {
  readonly name: string;
  readonly lane: Lane;
  readonly store: string;
  /** `Pending` until the shared state was read, then `Progressing`, `Paused`, `Completed`, `Aborted`. */
  readonly phase: 'Pending' | 'Progressing' | 'Paused' | 'Completed' | 'Aborted';
  readonly step: number;
  readonly steps: number;
  /** The current step as written (`setWeight: 40`, `pause: 30s`, `pause: until promoted`). */
  readonly currentStep: string | null;
  /** The lane's weight in force. */
  readonly weight: number;
  /** Header routes in force, by name. */
  readonly headerRoutes: readonly string[];
  readonly paused: boolean;
  readonly abortReason: string | null;
  /** The rule-set version in force in this process. */
  readonly version: number;
  readonly updatedAt: string | null;
  readonly updatedBy: string | null;
  /** When THIS replica applied the state in force (ISO 8601); minus `updatedAt`, its apply lag. */
  readonly appliedAt: string | null;
  /**
   * This replica's counters since the step began (`lane`, `base`: what analysis steps judge) and
   * since the plan (re)started (`runLane`, `runBase`: what background analysis judges), and the
   * latest verdict.
   */
  readonly analysis: {
    readonly lane: LaneFigures;
    readonly base: LaneFigures;
    readonly runLane: LaneFigures;
    readonly runBase: LaneFigures;
    readonly verdict: { readonly result: string; readonly reason: string } | null;
  };
  readonly lastError: string | null;
}

interface Derived {
  readonly weight: number;
  readonly routes: ReadonlyMap<string, RuleMatch>;
}

/**
 * A release plan the edge walks: Argo Rollouts' canary steps (`setWeight`, `pause`,
 * `setHeaderRoute`, `analysis`) on one lane, with `promote`, `abort`, `pause`, `resume` and `retry`.
 * Build it with {@link releasePlan}, which documents the behaviour.
 */
export class ReleasePlan implements RuleSetProvider {
  readonly name: string;
  readonly lane: Lane;
  readonly #steps: readonly CompiledStep[];
  readonly #digest: string;
  readonly #sticky: StickyKey | undefined;
  readonly #matches: readonly RuleMatch[] | undefined;
  readonly #rules: readonly Rule[];
  readonly #analysis: CompiledAnalysis | null;
  readonly #store: PlanStore;
  readonly #replica: string;
  readonly #compileOptions: CompileRulesOptions;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #checks: Array<(rules: CompiledRules) => void> = [];
  // Since the current step began (analysis steps) and since the plan (re)started (background analysis).
  readonly #laneCounter = new LaneCounter();
  readonly #baseCounter = new LaneCounter();
  readonly #runLane = new LaneCounter();
  readonly #runBase = new LaneCounter();
  readonly #unwatch: () => void;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #ready: Promise<void>;
  #stored: StoredPlan | undefined;
  #current: RuleSet;
  #derivedKey = '';
  #verdict: AnalysisVerdict | null = null;
  #appliedAt = 0;
  #foreign: string | undefined;
  #lastError: string | null = null;
  #writing = false;
  #closed = false;

  /** @internal Use {@link releasePlan}. */
  constructor(options: ReleasePlanOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'expected { name, lane, steps }');
    if (typeof options.name !== 'string' || !/^[A-Za-z0-9][-A-Za-z0-9_.]{0,252}$/.test(options.name)) {
      throw new InvalidPlanError('name', 'expected a name of letters, digits, -, _ and .');
    }
    const lane = parseLane(options.lane);
    if (lane === undefined) throw new InvalidPlanError('lane', 'expected a lane');
    this.name = options.name;
    this.lane = lane;
    this.#steps = compileSteps(options.steps, compileAnalysis);
    this.#digest = createHash('sha256').update(JSON.stringify(this.#steps)).digest('base64url').slice(0, 16);
    this.#sticky = options.sticky;
    this.#matches = options.matches;
    this.#rules = options.rules ?? [];
    this.#analysis = options.analysis === undefined ? null : compileAnalysis(options.analysis, 'analysis');
    this.#store = options.store ?? memoryPlanStore();
    if (typeof this.#store?.compareAndSet !== 'function')
      throw new InvalidOptionError('store', 'expected a PlanStore');
    this.#replica = options.replica ?? `${hostname()}/${process.pid}`;
    this.#compileOptions = { maxInputLength: options.maxInputLength, random: options.random };
    this.#onError = options.onError;
    const resyncMs = positiveOption(
      options.resyncIntervalMs,
      'resyncIntervalMs',
      DEFAULT_PLAN_RESYNC_INTERVAL_MS,
    );
    const tickMs = positiveOption(options.tickIntervalMs, 'tickIntervalMs', DEFAULT_PLAN_TICK_INTERVAL_MS);
    // Until the shared state is read: the lane gets nothing from the plan (weight 0, no routes).
    this.#current = this.#compile({ weight: 0, routes: new Map() }, false, 1); // validates sticky/matches/rules now
    this.#unwatch = this.#store.watch(this.name, (stored) => this.#apply(stored));
    this.#ready = this.#resync(true);
    const resync = setInterval(() => void this.#resync(false), resyncMs);
    const tick = setInterval(() => this.#tick(), tickMs);
    resync.unref();
    tick.unref();
    this.#timers.push(resync, tick);
  }

  get current(): RuleSet {
    return this.#current;
  }

  addCheck(check: (rules: CompiledRules) => void): void {
    if (typeof check !== 'function') throw new InvalidOptionError('check', 'expected a function');
    check(this.#current.rules);
    this.#checks.push(check);
  }

  /** Counts a request the edge decided (status, duration) for the analysis. Called by `laneEdge()`. */
  observe(lane: string | undefined, status: number, durationMs: number): void {
    if (lane === this.lane) {
      this.#laneCounter.record(status, durationMs);
      this.#runLane.record(status, durationMs);
    } else if (lane === undefined) {
      this.#baseCounter.record(status, durationMs);
      this.#runBase.record(status, durationMs);
    }
  }

  /** Resolves once the shared state was read (or created) the first time. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Moves past the current step (ends a pause, skips an analysis gate) and clears a manual pause,
   * as Argo's `promote`; with `{ full: true }`, skips every remaining step (lane at 100%).
   */
  promote(options: { full?: boolean } = {}): Promise<PlanStatus> {
    return this.#mutate('promote', (s, now) => {
      if (s.phase !== 'Progressing')
        throw new PlanStoreError(this.name, `cannot promote a ${s.phase.toLowerCase()} plan`);
      const step = options.full === true ? this.#steps.length : s.step + 1;
      return this.#at(step, now, { paused: false });
    });
  }

  /** Aborts: the lane's weight goes to 0 and every rule routing into the lane is turned off. */
  abort(reason = 'aborted by an operator'): Promise<PlanStatus> {
    return this.#mutate('abort', (s, now) => {
      if (s.phase === 'Aborted') return s;
      return {
        ...s,
        phase: 'Aborted',
        abortReason: String(reason),
        updatedAt: now,
        updatedBy: this.#replica,
      };
    });
  }

  /** Pauses: the current weight stays, steps do not advance until `resume()` or `promote()`. */
  pause(): Promise<PlanStatus> {
    return this.#mutate('pause', (s, now) =>
      s.paused ? s : { ...s, paused: true, updatedAt: now, updatedBy: this.#replica },
    );
  }

  /** Ends a `pause()`. A timed pause step counts from its start, as if never paused. */
  resume(): Promise<PlanStatus> {
    return this.#mutate('resume', (s, now) =>
      s.paused ? { ...s, paused: false, updatedAt: now, updatedBy: this.#replica } : s,
    );
  }

  /** Starts an aborted plan again from its first step (Argo's `retry`). */
  retry(): Promise<PlanStatus> {
    return this.#mutate('retry', (s, now) => {
      if (s.phase !== 'Aborted')
        throw new PlanStoreError(this.name, `cannot retry a ${s.phase.toLowerCase()} plan`);
      return this.#at(0, now, { paused: false });
    });
  }

  status(): PlanStatus {
    const stored = this.#stored?.state;
    const derived = stored === undefined ? { weight: 0, routes: new Map() } : this.#derive(stored);
    const phase =
      stored === undefined
        ? 'Pending'
        : stored.phase === 'Progressing' && (stored.paused || this.#atPauseStep(stored))
          ? 'Paused'
          : stored.phase;
    const step = stored?.step ?? 0;
    return {
      name: this.name,
      lane: this.lane,
      store: this.#store.name,
      phase,
      step,
      steps: this.#steps.length,
      currentStep: stored?.phase === 'Progressing' ? describeStep(this.#steps[step]) : null,
      weight: derived.weight,
      headerRoutes: [...derived.routes.keys()],
      paused: stored?.paused ?? false,
      abortReason: stored?.abortReason ?? null,
      version: this.#current.version,
      updatedAt: stored === undefined ? null : new Date(stored.updatedAt).toISOString(),
      updatedBy: stored?.updatedBy ?? null,
      appliedAt: this.#appliedAt === 0 ? null : new Date(this.#appliedAt).toISOString(),
      analysis: {
        lane: this.#laneCounter.figures(),
        base: this.#baseCounter.figures(),
        runLane: this.#runLane.figures(),
        runBase: this.#runBase.figures(),
        verdict:
          this.#verdict === null ? null : { result: this.#verdict.result, reason: this.#verdict.reason },
      },
      lastError: this.#lastError,
    };
  }

  /** Stops watching and ticking; the rules in force stay usable. Does not close a store you passed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#unwatch();
  }

  // --- shared state ------------------------------------------------------------------------

  #at(step: number, now: number, extra: Partial<PlanState>): PlanState {
    const done = step >= this.#steps.length;
    return {
      phase: done ? 'Completed' : 'Progressing',
      step: done ? this.#steps.length : step,
      stepStartedAt: now,
      paused: false,
      abortReason: null,
      updatedAt: now,
      updatedBy: this.#replica,
      stepsDigest: this.#digest,
      ...extra,
    };
  }

  async #resync(first: boolean): Promise<void> {
    if (this.#closed) return;
    try {
      let stored = await this.#store.read(this.name);
      if (stored === undefined) {
        const now = Date.now();
        const initial = this.#at(0, now, {});
        const revision = await this.#store.compareAndSet(this.name, initial, null);
        stored = revision === null ? await this.#store.read(this.name) : { state: initial, revision };
      }
      this.#apply(stored);
    } catch (error) {
      this.#report(
        new PlanStoreError(this.name, `cannot read the shared state: ${describeError(error)}`, {
          cause: error,
        }),
      );
      if (first) return; // ready() resolves; the next resync tries again
    }
  }

  #apply(stored: StoredPlan | undefined): void {
    if (this.#closed || stored === undefined) return;
    const previous = this.#stored;
    if (previous !== undefined && !newer(stored.revision, previous.revision)) return;
    const foreign = stored.state.stepsDigest !== undefined && stored.state.stepsDigest !== this.#digest;
    if (foreign && stored.state.phase === 'Progressing') {
      // Written by a replica with other steps: neither walk nor apply it (its step index means
      // something else here); retry() or promote() on a replica with these steps takes over.
      // Completed and Aborted mean the same whatever the steps, and are applied.
      if (this.#foreign !== stored.revision) {
        this.#foreign = stored.revision;
        this.#report(
          new PlanStoreError(
            this.name,
            `the stored state was written by a plan with other steps (${stored.state.updatedBy}); not applied`,
          ),
        );
      }
      return;
    }
    this.#stored = stored;
    this.#appliedAt = Date.now();
    const state = stored.state;
    if (
      previous === undefined ||
      previous.state.step !== state.step ||
      previous.state.phase !== state.phase ||
      previous.state.stepStartedAt !== state.stepStartedAt
    ) {
      this.#laneCounter.reset();
      this.#baseCounter.reset();
      this.#verdict = null;
    }
    // A new run (first read, retry, or walking back to an earlier step): background figures start over.
    if (
      previous === undefined ||
      state.step < previous.state.step ||
      (previous.state.phase !== state.phase && state.phase === 'Progressing')
    ) {
      this.#runLane.reset();
      this.#runBase.reset();
    }
    const derived = this.#derive(state);
    const aborted = state.phase === 'Aborted';
    const key = `${derived.weight}|${[...derived.routes.keys()].join(',')}|${aborted}`;
    if (key !== this.#derivedKey) {
      try {
        this.#current = this.#compile(derived, aborted, this.#current.version + 1, stored.revision);
        this.#derivedKey = key;
      } catch (error) {
        this.#report(asError(error));
      }
    }
    if (liveChannels.planStep.hasSubscribers) {
      liveChannels.planStep.publish({
        plan: this.name,
        phase: state.phase,
        step: state.step,
        weight: derived.weight,
        version: this.#current.version,
      });
    }
    if (aborted && previous?.state.phase !== 'Aborted' && liveChannels.planAbort.hasSubscribers) {
      liveChannels.planAbort.publish({ plan: this.name, step: state.step, reason: state.abortReason ?? '' });
    }
    this.#tick();
  }

  #derive(state: PlanState): Derived {
    if (state.phase === 'Aborted') return { weight: 0, routes: new Map() };
    if (state.phase === 'Completed') return { weight: 100, routes: new Map() };
    let weight = 0;
    const routes = new Map<string, RuleMatch>();
    for (let i = 0; i <= state.step && i < this.#steps.length; i++) {
      const step = this.#steps[i]!;
      if (step.type === 'setWeight') weight = step.weight;
      else if (step.type === 'setHeaderRoute') {
        if (step.match === null) routes.delete(step.name);
        else routes.set(step.name, step.match);
      }
    }
    return { weight, routes };
  }

  #compile(derived: Derived, aborted: boolean, version: number, revision?: string): RuleSet {
    const rules: Rule[] = [];
    for (const [route, match] of derived.routes)
      rules.push({ lane: this.lane, name: `${this.name}:route:${route}`, matches: [match] });
    const weightRule: Rule = { lane: this.lane, name: this.name, weight: derived.weight };
    rules.push(
      this.#sticky === undefined
        ? this.#matches === undefined
          ? weightRule
          : { ...weightRule, matches: this.#matches }
        : {
            ...weightRule,
            sticky: this.#sticky,
            ...(this.#matches === undefined ? {} : { matches: this.#matches }),
          },
    );
    for (const rule of this.#rules) if (!aborted || (rule.lane ?? undefined) !== this.lane) rules.push(rule);
    const compiled = compileRules(rules, this.#compileOptions);
    for (const check of this.#checks) check(compiled);
    return Object.freeze({
      version,
      rules: compiled,
      source: `plan:${this.name}`,
      revision,
      loadedAt: Date.now(),
    });
  }

  #atPauseStep(state: PlanState): boolean {
    return this.#steps[state.step]?.type === 'pause';
  }

  // --- walking -----------------------------------------------------------------------------

  #tick(): void {
    if (this.#closed || this.#writing) return;
    const stored = this.#stored;
    if (stored === undefined) return;
    const s = stored.state;
    if (s.phase !== 'Progressing') return;
    const now = Date.now();
    if (this.#analysis !== null && this.#derive(s).weight + this.#derive(s).routes.size > 0) {
      const verdict = judge(this.#analysis, this.lane, this.#runLane, this.#runBase);
      this.#verdict = verdict;
      if (verdict.result === 'fail') {
        void this.#write(stored, {
          ...s,
          phase: 'Aborted',
          abortReason: `analysis: ${verdict.reason}`,
          updatedAt: now,
          updatedBy: this.#replica,
        });
        return;
      }
    }
    if (s.paused) return;
    const step = this.#steps[s.step];
    if (step === undefined) {
      void this.#write(stored, this.#at(this.#steps.length, now, {}));
      return;
    }
    switch (step.type) {
      case 'setWeight':
      case 'setHeaderRoute':
        void this.#write(stored, this.#at(s.step + 1, now, {}));
        return;
      case 'pause':
        if (step.durationMs !== null && now >= s.stepStartedAt + step.durationMs) {
          void this.#write(stored, this.#at(s.step + 1, now, {}));
        }
        return;
      case 'analysis': {
        const verdict = judge(step.analysis, this.lane, this.#laneCounter, this.#baseCounter);
        this.#verdict = verdict;
        if (verdict.result === 'pass') void this.#write(stored, this.#at(s.step + 1, now, {}));
        else if (verdict.result === 'fail') {
          void this.#write(stored, {
            ...s,
            phase: 'Aborted',
            abortReason: `analysis: ${verdict.reason}`,
            updatedAt: now,
            updatedBy: this.#replica,
          });
        }
        return;
      }
    }
  }

  /** One compare-and-set from `from`; on conflict or failure the next resync/watch event catches up. */
  async #write(from: StoredPlan, state: PlanState): Promise<void> {
    this.#writing = true;
    try {
      const revision = await this.#store.compareAndSet(this.name, state, from.revision);
      if (revision !== null) this.#apply({ state, revision });
      else void this.#resync(false);
    } catch (error) {
      this.#report(
        new PlanStoreError(this.name, `cannot write the shared state: ${describeError(error)}`, {
          cause: error,
        }),
      );
    } finally {
      this.#writing = false;
    }
    // Instant steps (setWeight, setHeaderRoute) chain without waiting for the next tick.
    if (!this.#closed) setImmediate(() => this.#tick());
  }

  async #mutate(
    operation: string,
    change: (state: PlanState, now: number) => PlanState,
  ): Promise<PlanStatus> {
    if (this.#closed) throw new PlanStoreError(this.name, `${operation}: the plan is closed`);
    for (let attempt = 0; attempt < PLAN_WRITE_ATTEMPTS; attempt++) {
      let stored: StoredPlan | undefined;
      try {
        stored = await this.#store.read(this.name);
      } catch (error) {
        throw new PlanStoreError(
          this.name,
          `${operation}: cannot read the shared state: ${describeError(error)}`,
          { cause: error },
        );
      }
      const now = Date.now();
      const state = stored?.state ?? this.#at(0, now, {});
      const next = change(state, now);
      if (next === state && stored !== undefined) {
        this.#apply(stored);
        return this.status();
      }
      let revision: string | null;
      try {
        revision = await this.#store.compareAndSet(this.name, next, stored?.revision ?? null);
      } catch (error) {
        throw new PlanStoreError(
          this.name,
          `${operation}: cannot write the shared state: ${describeError(error)}`,
          { cause: error },
        );
      }
      if (revision !== null) {
        this.#apply({ state: next, revision });
        return this.status();
      }
    }
    throw new PlanStoreError(
      this.name,
      `${operation}: ${PLAN_WRITE_ATTEMPTS} concurrent writers in a row, giving up`,
    );
  }

  #report(error: Error): void {
    this.#lastError = error.message;
    if (this.#onError !== undefined) {
      try {
        this.#onError(error);
      } catch {
        // a throwing logger must not stop the plan
      }
    }
  }
}

/** Store revisions are numbers in strings (etcd mod revisions); others just have to differ. */
function newer(next: string, previous: string): boolean {
  if (/^\d+$/.test(next) && /^\d+$/.test(previous)) return BigInt(next) > BigInt(previous);
  return next !== previous;
}

function describeStep(step: CompiledStep | undefined): string | null {
  if (step === undefined) return null;
  switch (step.type) {
    case 'setWeight':
      return `setWeight: ${step.weight}`;
    case 'pause':
      return step.durationMs === null ? 'pause: until promoted' : `pause: ${step.durationMs} ms`;
    case 'setHeaderRoute':
      return step.match === null ? `setHeaderRoute: remove ${step.name}` : `setHeaderRoute: ${step.name}`;
    case 'analysis':
      return `analysis: >= ${step.analysis.minRequests} requests, 5xx <= ${step.analysis.maxErrorRatio * 100}%`;
  }
}

/**
 * Creates a {@link ReleasePlan}: an Argo Rollouts-style canary walked by the edge. Pass it to
 * `laneEdge({ rules: plan })`.
 *
 * - **Rules**: header routes in force (`setHeaderRoute`), then `{ lane, weight, sticky, matches }`,
 *   then `rules`. Each state change is compiled once and swapped in atomically (`current.version`).
 * - **Shared position**: the state (`step`, `phase`, `paused`, `abortReason`) lives in `store`;
 *   every change is a compare-and-set, so replicas never double-advance. Each replica applies a
 *   state written by any replica on the store's watch event, and at the latest after
 *   `resyncIntervalMs` (default 1000 ms) while the store is reachable: **the apply bound**. Timed
 *   pauses end within `tickIntervalMs` (default 100 ms) of their duration, plus the apply bound on
 *   the other replicas.
 * - **Analysis**: the edge's own counters of this replica (requests, 5xx ratio, latency
 *   percentile; lane vs base). Background `analysis` judges the counts since the plan (re)started;
 *   an `analysis` step judges the counts since that step began, and moves on once they pass. A
 *   breach on any replica aborts the plan for all. Checked every `tickIntervalMs`; a breach is
 *   seen once `minRequests` lane requests have been counted.
 * - **Abort**: weight 0, header routes off, and `rules` that route into the lane off.
 *   Published on `graylane:edge:plan-abort`; the reason is in `status().abortReason`.
 *
 * @throws {InvalidPlanError} `GL_ERR_INVALID_PLAN` for bad steps or analysis.
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` for bad `sticky`, `matches` or `rules`.
 * @example
 * import { etcdPlanStore } from '@graylane/rules/etcd';
 * const plan = releasePlan({
 *   name: 'checkout-v2', lane: 'gray', sticky: { cookie: 'uid' },
 *   steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }, { pause: { duration: '10m' } }, { setWeight: 100 }],
 *   analysis: { minRequests: 200, maxErrorRatio: 0.01, maxLatencyRatio: 1.2 },
 *   store: etcdPlanStore({ endpoints: 'http://10.0.0.5:2379' }),
 * });
 * app.use(laneEdge({ rules: plan }));
 * await plan.promote(); // past the indefinite pause
 */
export function releasePlan(options: ReleasePlanOptions): ReleasePlan {
  assertKnownOptions('releasePlan()', options, RELEASE_PLAN_OPTION_KEYS);
  return new ReleasePlan(options);
}
