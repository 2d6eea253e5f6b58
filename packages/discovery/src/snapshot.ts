import type { Bucket } from './internal/bucket';
import { errorCode } from './internal/caught';
import type { ServiceState } from './internal/service-state';
import { matchLaneLabel, unconfiguredLaneLabel } from './lane-labels';

/** One instance as diagnostics show it. `lane` is `null` for base. */
export interface InstanceSnapshot {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly healthy: boolean;
  readonly lane: string | null;
  /** The label that gave the lane (`alicloud.service.tag`), or `null` for a base instance. */
  readonly laneLabel: string | null;
  /**
   * For a base instance: a label that looks like a lane label but is not configured (`lane`,
   * `version`, a misspelled lane label...), also warned once as `GL_WARN_UNCONFIGURED_LANE_LABEL`.
   */
  readonly unconfiguredLaneLabel: string | null;
  /** Times this instance was picked by this discovery. */
  readonly picks: number;
  /** Requests in flight, as reported through `report()` (P2C). */
  readonly outstanding: number;
  /** Outlier state; absent for an instance that never failed (or with ejection off). */
  readonly outlier?: {
    /** Out of its lane's bucket until `ejectedUntil`. */
    readonly ejected: boolean;
    readonly ejectedUntil: string | null;
    /** Ejections in a row. */
    readonly ejections: number;
    /** Returned from an ejection, not yet succeeded: the next failure ejects it again. */
    readonly probation: boolean;
    /** Connect failures / timeouts in a row. */
    readonly consecutiveFailures: number;
    /** 5xx / UNAVAILABLE in a row. */
    readonly consecutive5xx: number;
  };
  /** Present while the instance warms up (option `warmup`). */
  readonly warmup?: {
    /** The percent of its weight it gets now (as of the last rebuild, 1..99). */
    readonly weightPercent: number;
    /** When its warm-up ends. */
    readonly endsAt: string;
  };
}

/** One lane bucket of a service. */
export interface LaneBucketSnapshot {
  /** The lane; `null` is the base lane. */
  readonly lane: string | null;
  /** Instances that can be picked (healthy, weight > 0, not ejected). */
  readonly pickable: number;
  /** Healthy instances with weight > 0 that are ejected now. */
  readonly ejected: number;
  /** Pickable instances that warm up now (present only when there are any). */
  readonly warming?: number;
  readonly instances: readonly InstanceSnapshot[];
}

/** Where a requested lane goes now. */
export interface RouteSnapshot {
  /** Requested lane; `null` is base, `(other)` is the shared route of lanes past the cap. */
  readonly lane: string | null;
  /** Lane that serves it (`null` = base); absent when nothing can serve it. */
  readonly servedBy?: string | null;
  readonly fallback: boolean;
  /** Why it falls back: `no-instance`, `unhealthy` or `ejected` (present when `fallback`). */
  readonly reason?: string;
  /** Picks that found no instance. */
  readonly noInstance: number;
}

/** Picks counted per (requested lane -> served lane). `fallback` when they differ. */
export interface FlowSnapshot {
  readonly from: string | null;
  readonly to: string | null;
  readonly picks: number;
  readonly fallback: boolean;
  /**
   * For fallbacks, why: `no-instance` (the lane has none), `unhealthy`, `ejected` (all its
   * instances are ejected), `unreachable` (a retry after the lane's instance could not be reached).
   */
  readonly reason?: string;
}

/** An instance excluded from every bucket because its lane label is not a valid lane. */
export interface InvalidInstanceSnapshot {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly label: string;
  readonly value: string;
}

/** Everything discovery knows about one service. */
export interface ServiceSnapshot {
  /** A first instance set has arrived. */
  readonly loaded: boolean;
  /** When the last good set arrived (ISO 8601), or `null`. */
  readonly updatedAt: string | null;
  /**
   * When the registry started failing for this service (ISO 8601): the first failure since the
   * last good set, which stays in use (`loaded`) or never came (`!loaded`). `null` while the
   * registry delivers.
   */
  readonly staleSince: string | null;
  /**
   * The registry's failure for this service while it lasts (the last good set stays in use);
   * `null` again once the registry delivers a good set.
   */
  readonly lastError: { readonly message: string; readonly code: string | null; readonly at: string } | null;
  /** The most recent failure, kept after recovery: `recoveredAt` is when a good set came back (`null`: not yet). */
  readonly lastFailure: {
    readonly message: string;
    readonly code: string | null;
    readonly at: string;
    readonly recoveredAt: string | null;
  } | null;
  /** Registry failures reported for this service since it was first tracked. */
  readonly failures: number;
  /** Base bucket first, then lanes by name. */
  readonly lanes: readonly LaneBucketSnapshot[];
  readonly invalid: readonly InvalidInstanceSnapshot[];
  readonly routes: readonly RouteSnapshot[];
  readonly counters: {
    readonly picks: readonly FlowSnapshot[];
    readonly fallbacks: readonly FlowSnapshot[];
    /** Picks asked for a value that is not a lane (served as base). */
    readonly invalidLanePicks: number;
    /** Ejections made since the service was first tracked. */
    readonly ejections: number;
    /** Ejections refused because `maxEjectionPercent` of the lane was out already. */
    readonly ejectionsCapped: number;
  };
}

/** Discovery configuration as given (normalized). */
export interface ConfigSnapshot {
  readonly registry: string;
  readonly laneLabels: readonly string[];
  readonly fallback: Readonly<Record<string, string>>;
  readonly strict: boolean | readonly string[];
  readonly balancer: string;
}

/** The routing table, JSON-serializable (`JSON.stringify(discovery.snapshot())`). */
export interface DiscoverySnapshot {
  readonly closed: boolean;
  readonly config: ConfigSnapshot;
  readonly services: Readonly<Record<string, ServiceSnapshot>>;
}

function bucketSnapshot(state: ServiceState, bucket: Bucket): LaneBucketSnapshot {
  const lane = bucket.lane ?? null;
  return {
    lane,
    pickable: bucket.size,
    ejected: bucket.eligible - bucket.size,
    ...(bucket.warming === 0 ? {} : { warming: bucket.warming }),
    instances: bucket.all.map((i) => {
      const position = state.positions.get(i.id);
      const current = position === undefined ? 0 : position.bucket.picks[position.index]!;
      const record = state.outliers?.records.get(i.id);
      const warmupPercent = state.warming?.percents?.get(i.id);
      const warmupEnd = warmupPercent === undefined ? undefined : state.warming!.endsAt(i.id);
      return {
        id: i.id,
        host: i.host,
        port: i.port,
        weight: i.weight,
        healthy: i.healthy,
        lane,
        laneLabel: lane === null ? null : (matchLaneLabel(i.labels, state.laneLabels)?.key ?? null),
        unconfiguredLaneLabel:
          lane === null ? (unconfiguredLaneLabel(i.labels, state.laneLabels) ?? null) : null,
        picks: (state.pickHistory.get(i.id) ?? 0) + current,
        outstanding: position === undefined ? 0 : position.bucket.outstandingAt(position.index),
        ...(record === undefined
          ? {}
          : {
              outlier: {
                ejected: record.ejectedUntil !== 0,
                ejectedUntil: record.ejectedUntil === 0 ? null : new Date(record.ejectedUntil).toISOString(),
                ejections: record.ejections,
                probation: record.probation,
                consecutiveFailures: record.failures,
                consecutive5xx: record.errors,
              },
            }),
        ...(warmupPercent === undefined || warmupEnd === undefined
          ? {}
          : { warmup: { weightPercent: warmupPercent, endsAt: new Date(warmupEnd).toISOString() } }),
      };
    }),
  };
}

/** @internal Builds one service's snapshot. */
export function serviceSnapshot(state: ServiceState): ServiceSnapshot {
  const lanes = [bucketSnapshot(state, state.base)];
  for (const lane of [...state.buckets.keys()].sort())
    lanes.push(bucketSnapshot(state, state.buckets.get(lane)!));
  const routes: RouteSnapshot[] = [];
  for (const route of [state.baseRoute, ...state.routes.values(), state.otherRoute]) {
    const lane = route.lane ?? null;
    routes.push(
      route.bucket === null
        ? { lane, fallback: false, noInstance: route.misses }
        : {
            lane,
            servedBy: route.bucket.lane ?? null,
            fallback: route.fallback,
            ...(route.reason === undefined ? {} : { reason: route.reason }),
            noInstance: route.misses,
          },
    );
  }
  const picks = [...state.flows.values()]
    .filter((f) => f.count > 0)
    .map((f) => ({
      from: f.from ?? null,
      to: f.to ?? null,
      picks: f.count,
      fallback: f.from !== f.to,
      ...(f.reason === undefined ? {} : { reason: f.reason }),
    }));
  const error = state.lastError;
  const failure = state.lastFailure;
  return {
    loaded: state.loaded,
    updatedAt: state.loaded ? new Date(state.updatedAt).toISOString() : null,
    staleSince: state.staleSince === null ? null : new Date(state.staleSince).toISOString(),
    lastError:
      error === null
        ? null
        : {
            message: error.error.message,
            code: errorCode(error.error) ?? null,
            at: new Date(error.at).toISOString(),
          },
    lastFailure:
      failure === null
        ? null
        : {
            message: failure.error.message,
            code: errorCode(failure.error) ?? null,
            at: new Date(failure.at).toISOString(),
            recoveredAt: failure.recoveredAt === null ? null : new Date(failure.recoveredAt).toISOString(),
          },
    failures: state.failures,
    lanes,
    invalid: state.invalid.map((x) => ({
      id: x.instance.id,
      host: x.instance.host,
      port: x.instance.port,
      label: x.label,
      value: x.value,
    })),
    routes,
    counters: {
      picks,
      fallbacks: picks.filter((f) => f.fallback),
      invalidLanePicks: state.invalidLanePicks,
      ejections: state.outliers?.total ?? 0,
      ejectionsCapped: state.outliers?.capped ?? 0,
    },
  };
}
