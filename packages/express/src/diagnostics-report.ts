import {
  assertKnownOptions,
  BASE_LANE_KEY,
  type IngressCounters,
  InvalidOptionError,
  ingressCounters,
} from '@graylane/core';
import { compileTrust, type Rule, type RuleCounters, type TrustPolicy } from '@graylane/rules';
import {
  buildLiveReport,
  type CompiledLiveOptions,
  compileLiveOptions,
  type DiagnosticsLiveOptions,
  type LiveReport,
  liveRulesTable,
} from './diagnostics-live';
import { ruleRow } from './internal/describe-rule';

/** One instance as a discovery snapshot lists it (`InstanceSnapshot` in `@graylane/discovery`). */
export interface DiagnosticsInstanceLike {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly healthy: boolean;
  readonly picks?: number;
  /** The label that gave the instance its lane. */
  readonly laneLabel?: string | null;
  /** A label that looks like a lane label but is not configured (the instance is base). */
  readonly unconfiguredLaneLabel?: string | null;
}

/** A requested lane -> served lane flow (`FlowSnapshot` in `@graylane/discovery`). */
export interface DiagnosticsFlowLike {
  readonly from: string | null;
  readonly to: string | null;
  readonly picks: number;
}

/** What the router reads of one service (`ServiceSnapshot` in `@graylane/discovery`). */
export interface DiagnosticsServiceLike {
  readonly loaded: boolean;
  readonly updatedAt?: string | null;
  readonly staleSince?: string | null;
  readonly lastError?: {
    readonly message: string;
    readonly code: string | null;
    readonly at?: string;
  } | null;
  /** The most recent failure, kept after recovery (a discovery's `lastError` clears on recovery). */
  readonly lastFailure?: {
    readonly message: string;
    readonly code: string | null;
    readonly at?: string;
  } | null;
  readonly lanes: ReadonlyArray<{
    readonly lane: string | null;
    readonly instances: readonly DiagnosticsInstanceLike[];
  }>;
  readonly routes?: ReadonlyArray<{
    readonly lane: string | null;
    readonly servedBy?: string | null;
    readonly fallback: boolean;
    readonly noInstance: number;
  }>;
  readonly counters?: {
    readonly fallbacks: readonly DiagnosticsFlowLike[];
    readonly invalidLanePicks?: number;
  };
}

/**
 * Anything with a `snapshot()` shaped like `@graylane/discovery`'s `DiscoverySnapshot` — a
 * `createDiscovery()` result fits. Typed structurally so this package does not depend on discovery.
 */
export interface DiagnosticsDiscovery {
  snapshot(): {
    readonly config?: {
      readonly registry?: string;
      readonly fallback?: Readonly<Record<string, string>>;
      readonly strict?: boolean | readonly string[];
      readonly balancer?: string;
    };
    readonly services: Readonly<Record<string, DiagnosticsServiceLike>>;
  };
}

/** The edge rules as the router reads them: a `CompiledRules` from `compileRules()` (`@graylane/rules`) fits. */
export interface DiagnosticsRules {
  readonly rules: readonly Rule[];
  counters(): RuleCounters;
}

/** What {@link diagnosticsReport} reads. Every field is optional. */
export interface DiagnosticsReportOptions {
  /** The discovery whose routing table, routes and fallback counters to show. Default: none. */
  readonly discovery?: DiagnosticsDiscovery | undefined;
  /** The edge rules in force: pass the same `compileRules()` result you gave `laneEdge()`. Default: none. */
  readonly rules?: DiagnosticsRules | undefined;
  /** The edge's trust policy, shown with the rules. Default: not shown. */
  readonly trust?: TrustPolicy | undefined;
  /** Names this process on the page (e.g. `edge`, `svc-a/a-gray`). Default `graylane`. */
  readonly title?: string | undefined;
  /** Include the process-wide ingress counters (`ingressCounters()` from core). Default `true`. */
  readonly counters?: boolean | undefined;
  // --- live rules and release plans (diagnostics-live.ts) ---
  /**
   * Live rule sets (`liveRules()`) and release plans (`releasePlan()`): version, source, last
   * reload and last error; the plan's step, weight, analysis figures and abort reason. Without
   * `rules`, the rules table shows the first one's set in force. Default: none.
   */
  readonly live?: DiagnosticsLiveOptions | undefined;
}

const DIAGNOSTICS_REPORT_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  rules: 1,
  trust: 1,
  title: 1,
  counters: 1,
  live: 1,
} satisfies Record<keyof DiagnosticsReportOptions, 1>);

/** A row of the routing table: one instance. `lane` is `null` for base. */
export interface RoutingTableRow {
  readonly service: string;
  readonly lane: string | null;
  readonly id: string;
  /** `host:port` (IPv6 hosts in brackets). */
  readonly address: string;
  readonly weight: number;
  readonly healthy: boolean;
  readonly picks: number;
  /** The label that gave the lane (`alicloud.service.tag`), or `null` (base, or not reported). */
  readonly laneLabel: string | null;
  /** For a base instance: a label that looks like an unconfigured lane label (`lane`), or `null`. */
  readonly unconfiguredLaneLabel: string | null;
}

/**
 * A service's registry state: `loading` (no set yet, no failure), `loaded` (the registry delivers),
 * `stale` (the registry fails since `staleSince`; the set of `updatedAt` stays in use), `failing`
 * (it failed before any set arrived: nothing can be picked).
 */
export type RegistryState = 'loading' | 'loaded' | 'stale' | 'failing';

/** One service's registry state, as the page and the logger show it. */
export interface RegistryStateRow {
  readonly service: string;
  readonly state: RegistryState;
  readonly loaded: boolean;
  /** When the set in use arrived (ISO 8601), or `null`. */
  readonly updatedAt: string | null;
  /** When the registry started failing (ISO 8601), or `null` while it delivers. */
  readonly staleSince: string | null;
  /** The last failure's message (also kept after a recovery), or `null`. */
  readonly lastError: string | null;
  readonly lastErrorCode: string | null;
  readonly lastErrorAt: string | null;
}

/** Where a requested lane of a service goes. */
export interface RouteRow {
  readonly service: string;
  readonly lane: string | null;
  /** The lane that serves it (`null` = base); `undefined` when nothing can. */
  readonly servedBy: string | null | undefined;
  readonly fallback: boolean;
  readonly noInstance: number;
}

/** One edge rule, rendered for reading. */
export interface RuleRow {
  readonly index: number;
  readonly name: string | null;
  /** The lane it assigns (`null` = base). */
  readonly lane: string | null;
  /** The match conditions: `AND` within a match, `OR` between matches; `*` matches every request. */
  readonly matches: string;
  readonly weight: number;
  readonly sticky: string | null;
  /** Header changes (`set`, `add`, `remove`), or `null`. */
  readonly headers: string | null;
  /** Requests this rule decided. */
  readonly hits: number;
}

/** Counters of one lane. */
export interface LaneCounterRow {
  /** `null` = base, `(other)` = lanes past the counted cap. */
  readonly lane: string | null;
  /** Requests seen at ingress in this process. */
  readonly requests: number;
  /** Calls made in this lane that a fallback lane served (summed over services). */
  readonly fallbacks: number;
}

/** Calls of lane `from` to `service` served by lane `to`. */
export interface FallbackRow {
  readonly service: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly calls: number;
}

/** What the router serves as JSON (and renders as HTML). Fields may be added in minor versions. */
export interface DiagnosticsReport {
  readonly title: string;
  readonly generatedAt: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly discovery: {
    readonly registry: string | null;
    readonly balancer: string | null;
    readonly fallback: Readonly<Record<string, string>>;
    readonly strict: boolean | readonly string[];
    readonly services: readonly RegistryStateRow[];
  } | null;
  readonly routingTable: readonly RoutingTableRow[];
  readonly routes: readonly RouteRow[];
  readonly rules: {
    /** `strip`, `accept`, `allowlist: a, b`, or `null` when not given. */
    readonly trust: string | null;
    readonly rules: readonly RuleRow[];
    readonly noMatch: number;
    readonly malformedInputs: number;
    readonly oversizeInputs: number;
    /** Request fields of the wrong type ignored by `decide()`. */
    readonly invalidInputs: number;
  } | null;
  readonly counters: {
    readonly lanes: readonly LaneCounterRow[];
    /** `ingressCounters().requests`, or `null` with `counters: false`. */
    readonly requests: Readonly<Record<string, number>> | null;
    readonly fallbacks: readonly FallbackRow[];
    /** Tags dropped at ingress by reason (`ingressCounters().invalidTags`), or `null`. */
    readonly invalidTags: IngressCounters['invalidTags'] | null;
    /** Picks asked for a value that is not a lane, summed over services. */
    readonly invalidLanePicks: number;
  };
  // --- live rules and release plans (diagnostics-live.ts) ---
  /** Live rule sets and release plans, or `null` without the `live` option. */
  readonly live: LiveReport | null;
}

/** @internal Options validated once, at setup. */
export interface CompiledReportOptions {
  readonly discovery: DiagnosticsDiscovery | undefined;
  readonly rules: DiagnosticsRules | undefined;
  readonly trust: string | null;
  readonly title: string;
  readonly counters: boolean;
  readonly live: CompiledLiveOptions | null;
}

/**
 * @internal Validates report options once, at setup.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` naming the bad option.
 */
export function compileReportOptions(options: DiagnosticsReportOptions): CompiledReportOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object');
  }
  const { discovery, rules } = options;
  if (discovery !== undefined && typeof (discovery as { snapshot?: unknown })?.snapshot !== 'function') {
    throw new InvalidOptionError('discovery', 'expected a Discovery (createDiscovery()) with snapshot()');
  }
  if (
    rules !== undefined &&
    (typeof rules !== 'object' ||
      rules === null ||
      !Array.isArray(rules.rules) ||
      typeof rules.counters !== 'function')
  ) {
    throw new InvalidOptionError('rules', 'expected compiled rules (compileRules() from @graylane/rules)');
  }
  let trust: string | null = null;
  if (options.trust !== undefined) {
    const compiled = compileTrust(options.trust, 'strip', 'trust');
    trust =
      compiled.mode === 'allowlist'
        ? `allowlist: ${(options.trust as { allowlist: readonly string[] }).allowlist.join(', ')}`
        : compiled.mode;
  }
  const title = options.title ?? 'graylane';
  if (typeof title !== 'string') throw new InvalidOptionError('title', 'must be a string');
  const counters = options.counters ?? true;
  if (typeof counters !== 'boolean') throw new InvalidOptionError('counters', 'must be a boolean');
  const live = compileLiveOptions(options.live);
  return { discovery, rules, trust, title, counters, live };
}

/**
 * Builds the diagnostics report the router serves: the routing table, each service's routes, the
 * edge rules with their hit counters, and counters per lane. Useful outside Express (Fastify,
 * Koa, a `node:http` admin port) and in tests.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options.
 * @example
 * const report = diagnosticsReport({ discovery, rules });
 * report.counters.fallbacks; // [{ service: 'svc-b', from: 'gray', to: null, calls: 3 }]
 */
export function diagnosticsReport(options: DiagnosticsReportOptions = {}): DiagnosticsReport {
  assertKnownOptions('diagnosticsReport()', options, DIAGNOSTICS_REPORT_OPTION_KEYS);
  return buildReport(compileReportOptions(options));
}

/** @internal Builds the report from compiled options (the router calls this per request to the page). */
export function buildReport(options: CompiledReportOptions): DiagnosticsReport {
  const routingTable: RoutingTableRow[] = [];
  const routes: RouteRow[] = [];
  const fallbacks: FallbackRow[] = [];
  const fallbacksByLane = new Map<string | null, number>();
  let invalidLanePicks = 0;
  let discovery: DiagnosticsReport['discovery'] = null;
  if (options.discovery !== undefined) {
    const snapshot = options.discovery.snapshot();
    const services: Array<NonNullable<DiagnosticsReport['discovery']>['services'][number]> = [];
    for (const service of Object.keys(snapshot.services).sort()) {
      const state = snapshot.services[service]!;
      services.push(registryStateRow(service, state));
      for (const bucket of state.lanes) {
        for (const instance of bucket.instances) {
          routingTable.push({
            service,
            lane: bucket.lane,
            id: instance.id,
            address: instance.host.includes(':')
              ? `[${instance.host}]:${instance.port}`
              : `${instance.host}:${instance.port}`,
            weight: instance.weight,
            healthy: instance.healthy,
            picks: instance.picks ?? 0,
            laneLabel: instance.laneLabel ?? null,
            unconfiguredLaneLabel: instance.unconfiguredLaneLabel ?? null,
          });
        }
      }
      for (const route of state.routes ?? []) {
        routes.push({
          service,
          lane: route.lane,
          servedBy: route.servedBy,
          fallback: route.fallback,
          noInstance: route.noInstance,
        });
      }
      for (const flow of state.counters?.fallbacks ?? []) {
        fallbacks.push({ service, from: flow.from, to: flow.to, calls: flow.picks });
        fallbacksByLane.set(flow.from, (fallbacksByLane.get(flow.from) ?? 0) + flow.picks);
      }
      invalidLanePicks += state.counters?.invalidLanePicks ?? 0;
    }
    const config = snapshot.config;
    discovery = {
      registry: config?.registry ?? null,
      balancer: config?.balancer ?? null,
      fallback: config?.fallback ?? {},
      strict: config?.strict ?? false,
      services,
    };
  }

  let rules: DiagnosticsReport['rules'] = null;
  const shown = options.rules ?? liveRulesTable(options.live); // a live set: the one in force now
  if (shown !== undefined) {
    const counters = shown.counters();
    rules = {
      trust: options.trust,
      rules: shown.rules.map((rule, index) => ruleRow(rule, index, counters.byRule[index] ?? 0)),
      noMatch: counters.noMatch,
      malformedInputs: counters.malformedInputs,
      oversizeInputs: counters.oversizeInputs,
      invalidInputs: counters.invalidInputs,
    };
  }

  const ingress = options.counters ? ingressCounters() : null;
  const lanes: LaneCounterRow[] = [];
  const seen = new Set<string | null>();
  if (ingress !== null) {
    for (const key of Object.keys(ingress.requests)) {
      const lane = key === BASE_LANE_KEY ? null : key;
      seen.add(lane);
      lanes.push({ lane, requests: ingress.requests[key]!, fallbacks: fallbacksByLane.get(lane) ?? 0 });
    }
  }
  for (const [lane, calls] of fallbacksByLane) {
    if (!seen.has(lane)) lanes.push({ lane, requests: 0, fallbacks: calls });
  }
  lanes.sort(byLane);

  return {
    title: options.title,
    generatedAt: new Date().toISOString(),
    pid: process.pid,
    uptimeSeconds: Math.round(process.uptime()),
    discovery,
    routingTable,
    routes,
    rules,
    counters: {
      lanes,
      requests: ingress === null ? null : ingress.requests,
      fallbacks,
      invalidTags: ingress === null ? null : ingress.invalidTags,
      invalidLanePicks,
    },
    live: options.live === null ? null : buildLiveReport(options.live),
  };
}

/** @internal A service's registry state from its snapshot. */
export function registryStateRow(service: string, state: DiagnosticsServiceLike): RegistryStateRow {
  // The failure in progress, else the most recent one (still shown after a recovery).
  const error = state.lastError ?? state.lastFailure ?? null;
  // A snapshot without `staleSince` (an older discovery): an error after the last update is stale.
  const staleSince =
    state.staleSince !== undefined
      ? state.staleSince
      : error !== null && error.at !== undefined && (state.updatedAt == null || error.at > state.updatedAt)
        ? error.at
        : null;
  return {
    service,
    state: staleSince === null ? (state.loaded ? 'loaded' : 'loading') : state.loaded ? 'stale' : 'failing',
    loaded: state.loaded,
    updatedAt: state.updatedAt ?? null,
    staleSince,
    lastError: error === null ? null : error.message,
    lastErrorCode: error === null ? null : error.code,
    lastErrorAt: error?.at ?? null,
  };
}

// Base first, then lanes by name.
function byLane(a: { lane: string | null }, b: { lane: string | null }): number {
  if (a.lane === b.lane) return 0;
  if (a.lane === null) return -1;
  if (b.lane === null) return 1;
  return a.lane < b.lane ? -1 : 1;
}
