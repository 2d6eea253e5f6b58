import type * as OtelApi from '@opentelemetry/api';
import { LANE_BAGGAGE_KEY } from './constants';
import { type LaneContext, laneContextFor, setContextFallback } from './context';
import { InvalidOptionError } from './errors';
import { HTTP_TOKEN } from './http-token';
import { addEnterHook, type EnterHook, removeEnterHook, runEnterChain } from './internal/enter-hooks';
import { loadOtelApi, type OtelApiModule } from './internal/otel-api';
import { parseLane } from './lane';
import { assertKnownOptions } from './options';

/** Options of {@link enableOpenTelemetryBridge}. */
export interface OpenTelemetryBridgeOptions {
  /** Key of the lane entry in the OpenTelemetry baggage (W3C `baggage`). Default `x-mse-tag`. */
  readonly baggageKey?: string | undefined;
  /**
   * Outside any graylane context (no `withLane`, no graylane middleware on this request), report
   * the lane entry of the active OpenTelemetry baggage from `currentLane()` — the lane an
   * OpenTelemetry-instrumented server extracted from the request. The value must be a valid lane
   * tag. Default `true`.
   */
  readonly readActiveBaggage?: boolean | undefined;
}

const OPEN_TELEMETRY_BRIDGE_OPTION_KEYS: readonly string[] = Object.keys({
  baggageKey: 1,
  readActiveBaggage: 1,
} satisfies Record<keyof OpenTelemetryBridgeOptions, 1>);

/** Handle returned by {@link enableOpenTelemetryBridge}. */
export interface OpenTelemetryBridge {
  /** Stops this registration; the bridge is off once every registration is disabled. Idempotent. */
  disable(): void;
}

type Api = OtelApiModule;

// Loaded on the first enable, never at module load: core has no runtime dependencies.
let api: Api | null = null;

// The global registration slot of `@opentelemetry/api` 1.x (the peer range): the object that
// `context.setGlobalContextManager` fills and every installed copy of the API reads. A `context`
// entry there is how we tell a real context manager from the no-op one with a property read.
const OTEL_API_REGISTRY = Symbol.for('opentelemetry.js.api.1');

interface Registration {
  readonly key: string;
  readonly readActiveBaggage: boolean;
}

const registrations = new Set<Registration>();
// Distinct baggage keys of the live registrations, in registration order.
let baggageKeys: readonly string[] = [];
let fallbackKeys: readonly string[] = [];

type RegistryHolder = Record<symbol, { context?: unknown } | undefined>;

function managerRegistered(): boolean {
  const registry = (globalThis as RegistryHolder)[OTEL_API_REGISTRY];
  return registry !== undefined && registry.context !== undefined;
}

/**
 * Runs the rest of the enter chain inside an OpenTelemetry context whose baggage carries the lane
 * (or, for the base lane, does not carry a lane entry).
 */
class OtelBaggageHook implements EnterHook {
  enter<R>(context: LaneContext, fn: () => R, chain: readonly EnterHook[], next: number): R {
    if (!managerRegistered()) return runEnterChain(chain, next, context, fn);
    const otel = api!;
    const active = otel.context.active();
    const baggage = otel.propagation.getBaggage(active);
    const lane = context.lane;
    let updated = baggage;
    if (baggage === undefined) {
      // The common case at ingress: no baggage yet. The lane's baggage is immutable and shared.
      if (lane !== undefined) updated = laneBaggage(otel, lane);
    } else {
      for (let i = 0; i < baggageKeys.length; i++) {
        const key = baggageKeys[i]!;
        const entry = updated!.getEntry(key);
        if (lane === undefined) {
          if (entry !== undefined) updated = updated!.removeEntry(key);
        } else if (entry === undefined || entry.value !== lane) {
          updated = updated!.setEntry(key, { value: lane });
        }
      }
    }
    if (updated === baggage) return runEnterChain(chain, next, context, fn);
    return otel.context.with(
      otel.propagation.setBaggage(active, updated!),
      runEnterChain<R>,
      undefined,
      chain,
      next,
      context,
      fn,
    );
  }
}

const OTEL_HOOK = new OtelBaggageHook();

// Baggage holding only the lane entries, shared per lane (OpenTelemetry baggage is immutable).
const MAX_SHARED_BAGGAGE = 256;
const sharedBaggage = new Map<string, OtelApi.Baggage>();

function laneBaggage(otel: Api, lane: string): OtelApi.Baggage {
  let baggage = sharedBaggage.get(lane);
  if (baggage === undefined) {
    const entries: Record<string, OtelApi.BaggageEntry> = {};
    for (let i = 0; i < baggageKeys.length; i++) entries[baggageKeys[i]!] = { value: lane };
    baggage = otel.propagation.createBaggage(entries);
    if (sharedBaggage.size < MAX_SHARED_BAGGAGE) sharedBaggage.set(lane, baggage);
  }
  return baggage;
}

function laneFromActiveBaggage(): LaneContext | undefined {
  if (!managerRegistered()) return undefined;
  const otel = api!;
  const baggage = otel.propagation.getBaggage(otel.context.active());
  if (baggage === undefined) return undefined;
  for (let i = 0; i < fallbackKeys.length; i++) {
    const entry = baggage.getEntry(fallbackKeys[i]!);
    if (entry !== undefined) {
      const lane = parseLane(entry.value);
      return lane === undefined ? undefined : laneContextFor(lane);
    }
  }
  return undefined;
}

function refresh(): void {
  const keys: string[] = [];
  const fallback: string[] = [];
  for (const registration of registrations) {
    if (!keys.includes(registration.key)) keys.push(registration.key);
    if (registration.readActiveBaggage && !fallback.includes(registration.key)) {
      fallback.push(registration.key);
    }
  }
  baggageKeys = keys;
  fallbackKeys = fallback;
  sharedBaggage.clear();
  setContextFallback(fallback.length === 0 ? null : laneFromActiveBaggage);
}

/**
 * Bridges graylane lanes into OpenTelemetry baggage, through `@opentelemetry/api` only (an
 * optional peer dependency, loaded here and not before).
 *
 * While enabled and while a global OpenTelemetry context manager is registered, entering a lane
 * with `withLane` or `withLaneContext` (and so every graylane middleware) also runs the callback
 * in an OpenTelemetry context whose active baggage carries `<baggageKey>=<lane>`; in the base
 * lane the entry is removed. OpenTelemetry-instrumented clients with the W3C baggage propagator
 * therefore forward the lane, even through hops that run no graylane code.
 *
 * With `readActiveBaggage` (default), `currentLane()` outside any graylane context reports the
 * lane entry of the active OpenTelemetry baggage — what an OpenTelemetry-instrumented server
 * extracted from its request. A graylane context, even the base lane, always wins.
 *
 * Without a registered context manager the bridge does nothing and costs one property read per
 * lane entry; never enabled, it costs a single null check. Registrations stack: each call returns
 * its own handle, and the bridge is off when every handle is disabled.
 *
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` when `@opentelemetry/api` cannot be loaded.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` when `baggageKey` is not a token.
 * @example
 * const bridge = enableOpenTelemetryBridge(); // after the OpenTelemetry SDK is set up
 * await withLane('gray', () => fetch('http://b/')); // baggage: x-mse-tag=gray (OTel propagator)
 * bridge.disable();
 */
export function enableOpenTelemetryBridge(options: OpenTelemetryBridgeOptions = {}): OpenTelemetryBridge {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object');
  }
  assertKnownOptions('enableOpenTelemetryBridge()', options, OPEN_TELEMETRY_BRIDGE_OPTION_KEYS);
  const key = options.baggageKey ?? LANE_BAGGAGE_KEY;
  if (typeof key !== 'string' || !HTTP_TOKEN.test(key)) {
    throw new InvalidOptionError('baggageKey', `${JSON.stringify(key)} is not a baggage key (a token)`);
  }
  const readActiveBaggage = options.readActiveBaggage ?? true;
  if (typeof readActiveBaggage !== 'boolean') {
    throw new InvalidOptionError('readActiveBaggage', 'must be a boolean');
  }
  api = loadOtelApi('enableOpenTelemetryBridge()');
  const registration: Registration = { key, readActiveBaggage };
  if (registrations.size === 0) addEnterHook(OTEL_HOOK);
  registrations.add(registration);
  refresh();
  return new BridgeHandle(registration);
}

class BridgeHandle implements OpenTelemetryBridge {
  #registration: Registration | undefined;

  constructor(registration: Registration) {
    this.#registration = registration;
  }

  disable(): void {
    const registration = this.#registration;
    if (registration === undefined) return;
    this.#registration = undefined;
    registrations.delete(registration);
    refresh();
    if (registrations.size === 0) removeEnterHook(OTEL_HOOK);
  }
}
