import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertKnownOptions,
  BASE_CONTEXT,
  bindEmitterToLane,
  type CompiledIngress,
  compileIngress,
  extractLane,
  type IngressOptions,
  InvalidOptionError,
  type Lane,
  RECORD_GETTER,
  requestLaneContext,
  runInRequestLane,
  withLaneContext,
} from '@graylane/core';
import { CompiledRules, type CompileRulesOptions, compileRules } from './compile-rules';
import { type EdgeDecisionMessage, edgeChannels } from './edge-diagnostics';
import {
  compileLaneCarriers,
  type LaneCarrierRecord,
  type LaneCarriers,
  setLaneCarriers,
} from './lane-carriers';
import { LiveRules, liveRules } from './live-rules';
import { settleLaneCarriers } from './message-carriers';
import { type EdgeDecision, NO_DECISION, type Rule } from './rule';
import { isRuleSetProvider, type RuleSet, type RuleSetProvider } from './rule-set';
import { noteRuleSetVersion } from './rule-set-version';
import { isRuleSource, type RuleSource } from './rule-source';
import { type CompiledTrust, compileTrust, type TrustPolicy } from './trust';

/**
 * Options of {@link compileEdge}: what every edge adapter (`laneEdge`, `laneFastifyEdge`) takes.
 *
 * @example
 * const options: EdgeOptions = { rules: fileRuleSource({ path: 'rules.yaml' }), trust: { allowlist: ['qa'] } };
 */
export interface EdgeOptions extends CompileRulesOptions {
  /**
   * The edge rules: a list, in order (see {@link compileRules}); an already compiled set; a rule
   * source (`fileRuleSource()`, `etcdRuleSource()`, `kubernetesRuleSource()`), which the edge wraps
   * in `liveRules()`; or a provider whose set changes at run time (`liveRules()`, `releasePlan()`).
   * Each request is decided by the one set it read; {@link ruleSetVersionOf} says which.
   */
  readonly rules: readonly Rule[] | CompiledRules | RuleSource | RuleSetProvider;
  /**
   * What to do with a lane tag the client sent: `'strip'` (default: only rules assign lanes),
   * `'accept'`, or `{ allowlist: [lanes] }`. A kept tag wins over the rules (the request is
   * already in a lane); a tag that is not kept is removed from the request headers.
   */
  readonly trust?: TrustPolicy | undefined;
  /**
   * Where a client's tag is read from and stripped (`header`, `sources`, `baggageKey`), and which
   * headers to `carry` downstream. `header` (default `x-mse-tag`) is also where the decided lane is
   * written. Default: `x-mse-tag`, then the `x-mse-tag` baggage entry.
   */
  readonly ingress?: IngressOptions | undefined;
}

/**
 * What {@link CompiledEdge.settle} decided for one request: shared and frozen (one object per
 * lane, rule-set version and `carrierDropped`, made once), so settling allocates nothing for a
 * lane it has settled before.
 *
 * @example
 * const settled = edge.settle(req);
 * if (settled.carrierDropped) log.info(`client lane carrier dropped; lane ${settled.lane ?? 'base'}`);
 */
export class SettledLane {
  /** @internal Use {@link CompiledEdge.settle}. */
  constructor(
    /** The request's lane; `undefined` for the base lane. */
    readonly lane: Lane | undefined,
    /** The version of the rule set that decided it (`RuleSet.version`: 1, 2, ... per provider). */
    readonly ruleSetVersion: number,
    /** True when a lane carrier the client sent said something else and was rewritten or removed. */
    readonly carrierDropped: boolean,
  ) {
    Object.freeze(this);
  }
}

type MutableHeaders = LaneCarrierRecord;

// Settled lanes kept per rule-set version and `carrierDropped`, as core keeps lane contexts.
const MAX_SETTLED_LANES = 256;

/**
 * The framework-agnostic edge (gateway, BFF), compiled once by {@link compileEdge}. Framework
 * adapters call, per request, {@link CompiledEdge.settle} with the Node request, then
 * {@link observeEdgeOutcome} with the Node response, then {@link CompiledEdge.runInLane}.
 *
 * @example
 * const edge = compileEdge({ rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'user-agent', value: 'foo' }] }] }] });
 * const settled = edge.settle(req);
 * edge.runInLane(settled, req, res, next);
 */
export class CompiledEdge {
  /** The rule-set provider this edge reads (the `liveRules()` it made for a source). */
  readonly rules: RuleSetProvider;
  /** Every place of a request that can carry a lane; the lane header is `carriers.header`. */
  readonly carriers: LaneCarriers;
  readonly #trust: CompiledTrust;
  readonly #stripAll: boolean;
  // How a client's tag is read; and, past the edge, how the lane context is read back (from the
  // lane header alone: every other carrier says the same).
  readonly #client: CompiledIngress;
  readonly #enter: CompiledIngress;
  readonly #owned: LiveRules | undefined;
  #settledSet: RuleSet | undefined;
  readonly #settled = new Map<Lane | undefined, SettledLane>();
  readonly #settledDropped = new Map<Lane | undefined, SettledLane>();

  /** @internal Use {@link compileEdge}. */
  constructor(options: EdgeOptions) {
    const provider = providerOf(options);
    this.#trust = compileTrust(options.trust, 'strip');
    this.#client = compileIngress(options.ingress);
    this.carriers = compileLaneCarriers(options.ingress);
    const laneHeader = this.carriers.header;
    provider.addCheck((rules) => checkLaneHeader(rules, laneHeader));
    this.#enter = compileIngress({ header: laneHeader, baggageKey: false, carry: options.ingress?.carry });
    this.#stripAll = this.#trust.mode === 'strip';
    this.rules = provider;
    this.#owned = provider instanceof LiveRules && provider !== options.rules ? provider : undefined;
  }

  /**
   * Settles the lane of one request, in place: a client tag kept by `trust` settles it; otherwise
   * client tags are stripped, the rules in force decide (read once: the whole request is decided
   * by that version), and the winning rule's `setHeaders` / `addHeaders` / `removeHeaders` are
   * applied to `req.headers`. Then every lane carrier says the lane or nothing
   * ({@link settleLaneCarriers}), the version is noted for {@link ruleSetVersionOf}, and the
   * decision is published on `graylane:edge:decision` when subscribed. Never throws on request input.
   */
  settle(req: IncomingMessage): SettledLane {
    const headers = req.headers as MutableHeaders;
    const set = this.rules.current;
    noteRuleSetVersion(req, set.version);
    let lane: Lane | undefined;
    let kept = false;
    if (!this.#stripAll) {
      const sent = extractLane(headers, RECORD_GETTER, this.#client);
      if (sent !== undefined && this.#trust.admits(sent)) {
        lane = sent;
        kept = true;
      }
    }
    let dropped = false;
    if (kept) {
      if (edgeChannels.decision.hasSubscribers) publish(lane, -1, undefined, 'client', set.version);
    } else {
      // Rules never see a client's tag: they decide on the request without it.
      dropped = setLaneCarriers(headers, undefined, this.carriers);
      const decision = set.rules.decide(req);
      if (decision !== NO_DECISION) {
        applyHeaders(headers, decision);
        lane = decision.lane;
        if (edgeChannels.decision.hasSubscribers)
          publish(lane, decision.rule!, decision.name, 'rule', set.version);
      }
    }
    // Every carrier (lane header, sources, baggage, raw headers, trailers) says `lane` or nothing.
    if (settleLaneCarriers(req, lane, this.carriers)) dropped = true;
    return this.#settledLane(set, lane, dropped);
  }

  /**
   * Runs `next` in the settled lane, exactly as `laneMiddleware()` runs a request: counted at
   * ingress, carried headers read, the events of `req` and `res` bound to the lane. When a client
   * carrier was dropped, the base lane is entered too, so an integration such as the
   * OpenTelemetry bridge drops what it extracted from that carrier.
   *
   * @returns what `next` returns.
   */
  runInLane<R>(settled: SettledLane, req: IncomingMessage, res: ServerResponse, next: () => R): R {
    const context = requestLaneContext(req.headers, this.#enter);
    if (!settled.carrierDropped || context !== BASE_CONTEXT) return runInRequestLane(context, req, res, next);
    bindEmitterToLane(req, context);
    bindEmitterToLane(res, context);
    return withLaneContext(context, next);
  }

  /** Stops the source when the edge made its own `liveRules()` for one; otherwise does nothing. */
  close(): Promise<void> {
    return this.#owned === undefined ? Promise.resolve() : this.#owned.close();
  }

  #settledLane(set: RuleSet, lane: Lane | undefined, dropped: boolean): SettledLane {
    if (set !== this.#settledSet) {
      this.#settledSet = set;
      this.#settled.clear();
      this.#settledDropped.clear();
    }
    const cache = dropped ? this.#settledDropped : this.#settled;
    let settled = cache.get(lane);
    if (settled === undefined) {
      settled = new SettledLane(lane, set.version, dropped);
      if (cache.size < MAX_SETTLED_LANES) cache.set(lane, settled);
    }
    return settled;
  }
}

/**
 * Compiles an edge once, at setup: the rules (wrapping a rule source in `liveRules()`), the trust
 * policy, and every lane carrier. Framework adapters (`laneEdge` of `@graylane/express`,
 * `laneFastifyEdge` of `@graylane/fastify`) are thin wrappers around it; use it directly to put an
 * edge in front of another Node framework.
 *
 * Until a source delivers its first good set, every request is in the base lane: `await
 * edge.rules.ready()` (for the `LiveRules` made for a source) before serving if that matters.
 *
 * @throws {InvalidRuleError} `GL_ERR_INVALID_RULE` for a bad rule, at setup.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options, or a rule that sets the
 *   lane header to something other than its lane.
 * @example
 * const edge = compileEdge({ rules: fileRuleSource({ path: '/etc/graylane/rules.yaml' }) });
 * http.createServer((req, res) => {
 *   const settled = edge.settle(req); // { lane, ruleSetVersion, carrierDropped }
 *   observeEdgeOutcome(res, edge.rules, settled.lane);
 *   edge.runInLane(settled, req, res, () => handle(req, res));
 * });
 */
export function compileEdge(options: EdgeOptions): CompiledEdge {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { rules, trust?, ingress? }');
  }
  assertKnownOptions('compileEdge()', options, EDGE_OPTION_KEYS);
  return new CompiledEdge(options);
}

const EDGE_OPTION_KEYS: readonly string[] = Object.keys({
  rules: 1,
  trust: 1,
  ingress: 1,
  maxInputLength: 1,
  random: 1,
} satisfies Record<keyof EdgeOptions, 1>);

function providerOf(options: EdgeOptions): RuleSetProvider {
  const rules = options.rules;
  if (isRuleSetProvider(rules)) return rules;
  if (isRuleSource(rules)) {
    return liveRules({ source: rules, maxInputLength: options.maxInputLength, random: options.random });
  }
  const compiled = isCompiled(rules)
    ? rules
    : compileRules(rules as readonly Rule[], {
        maxInputLength: options.maxInputLength,
        random: options.random,
      });
  const current = Object.freeze({
    version: 1,
    rules: compiled,
    source: 'static',
    revision: undefined,
    loadedAt: Date.now(),
  });
  return {
    current,
    addCheck(check) {
      check(compiled);
    },
  };
}

// Duck-typed: a rule set compiled by another installed copy of @graylane/rules works too.
function isCompiled(rules: EdgeOptions['rules']): rules is CompiledRules {
  if (rules instanceof CompiledRules) return true;
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) return false;
  const candidate = rules as unknown as { decide?: unknown; rules?: unknown };
  return typeof candidate.decide === 'function' && Array.isArray(candidate.rules);
}

function applyHeaders(headers: MutableHeaders, decision: EdgeDecision): void {
  const remove = decision.removeHeaders;
  if (remove !== undefined) for (let i = 0; i < remove.length; i++) delete headers[remove[i]!];
  const set = decision.setHeaders;
  if (set !== undefined) for (const name in set) headers[name] = set[name];
  const add = decision.addHeaders;
  if (add === undefined) return;
  for (const name in add) {
    const existing = headers[name];
    headers[name] =
      existing === undefined
        ? add[name]
        : `${Array.isArray(existing) ? existing.join(', ') : String(existing)}, ${add[name]}`;
  }
}

function publish(
  lane: Lane | undefined,
  rule: number,
  name: string | undefined,
  source: 'rule' | 'client',
  version: number,
): void {
  const message: EdgeDecisionMessage = { lane, rule, name, source, version };
  edgeChannels.decision.publish(message);
}

// The lane header always carries the decided lane; a rule that writes it otherwise is a mistake.
function checkLaneHeader(rules: CompiledRules, laneHeader: string): void {
  rules.rules.forEach((rule, i) => {
    const lane = rule.lane ?? undefined;
    for (const field of ['setHeaders', 'addHeaders'] as const) {
      const map = rule[field];
      if (map === undefined) continue;
      for (const name of Object.keys(map)) {
        if (name.toLowerCase() !== laneHeader) continue;
        if (field === 'addHeaders' || map[name] !== lane) {
          throw new InvalidOptionError(
            `rules[${i}].${field}.${name}`,
            `the lane header ${laneHeader} carries the rule's lane (${JSON.stringify(lane ?? null)}); set the rule's lane instead`,
          );
        }
      }
    }
    if (rule.removeHeaders?.some((name) => name.toLowerCase() === laneHeader)) {
      throw new InvalidOptionError(
        `rules[${i}].removeHeaders`,
        `the lane header ${laneHeader} is managed by the edge`,
      );
    }
  });
}
