import * as diagnosticsChannel from 'node:diagnostics_channel';
import type * as OtelApi from '@opentelemetry/api';
import { BASE_LANE_KEY, MAX_COUNTED_LANES, OTHER_LANES } from './counters';
import { channels, type IngressLaneMessage, type InvalidTagMessage } from './diagnostics';
import { InvalidOptionError } from './errors';
import { loadOtelApi, type OtelApiModule } from './internal/otel-api';
import { assertKnownOptions } from './options';

/** The span attribute that names a request's lane. */
export const LANE_SPAN_ATTRIBUTE = 'graylane.lane';

/**
 * Names of the OpenTelemetry instruments {@link enableLaneObservability} creates (all counters).
 *
 * | instrument | attributes | counts |
 * |---|---|---|
 * | `graylane.ingress.requests` | `graylane.lane`, `graylane.carrier` | requests at ingress (`(base)` for the base lane) |
 * | `graylane.ingress.invalid_tags` | `graylane.carrier`, `graylane.key`, `graylane.reason` | lane tags ignored at ingress |
 * | `graylane.discovery.fallbacks` | `graylane.service`, `graylane.lane`, `graylane.served_lane` | calls served by a fallback lane |
 * | `graylane.discovery.no_instance` | `graylane.service`, `graylane.lane` | calls nothing could serve |
 * | `graylane.discovery.ejections` | `graylane.service`, `graylane.lane`, `graylane.reason` | instances ejected by discovery's outlier detection |
 */
export const LANE_METRICS = Object.freeze({
  requests: 'graylane.ingress.requests',
  invalidTags: 'graylane.ingress.invalid_tags',
  fallbacks: 'graylane.discovery.fallbacks',
  noInstance: 'graylane.discovery.no_instance',
  ejections: 'graylane.discovery.ejections',
});

/** One thing worth logging, handed to a {@link LaneLogger}. */
export interface LaneLogRecord {
  /** `debug` fallback (expected, per call), `warn` invalid tag / no instance, `error` registry failure. */
  readonly level: 'debug' | 'warn' | 'error';
  readonly event: 'fallback' | 'invalid-tag' | 'no-instance' | 'registry-error';
  /** One line for humans. */
  readonly message: string;
  /** The same facts as fields (the metric attributes, plus `graylane.registry` / the cut tag value). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The registry's error, for `registry-error`. */
  readonly error?: unknown;
}

/**
 * Receives {@link LaneLogRecord}s. Adapt it to your logger, e.g. pino:
 * `(r) => log[r.level]({ ...r.attributes, err: r.error }, r.message)`. Exceptions it throws are
 * swallowed: logging never breaks a request.
 */
export type LaneLogger = (record: LaneLogRecord) => void;

/**
 * The part of an OpenTelemetry `Meter` graylane uses: an `@opentelemetry/api` `Meter` fits.
 * Structural, so the declarations of core compile without the optional peer `@opentelemetry/api`.
 *
 * @example
 * const meter: LaneMeter = metrics.getMeter('shop'); // from @opentelemetry/api
 */
export interface LaneMeter {
  createCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): { add(value: number, attributes?: Readonly<Record<string, string>>): void };
}

/** Options of {@link enableLaneObservability}. */
export interface LaneObservabilityOptions {
  /**
   * Meter the counters are created on. Default: `metrics.getMeter('@graylane/core')` from the
   * global `@opentelemetry/api` meter provider, read once when you enable — so enable after the
   * SDK is set up (without an SDK the counters are no-ops).
   */
  readonly meter?: LaneMeter | undefined;
  /** Record the counters of {@link LANE_METRICS}. Default `true`. */
  readonly metrics?: boolean | undefined;
  /**
   * Attribute set on the span active at ingress for a request in a lane (the server span under
   * OpenTelemetry's HTTP instrumentation). `false`: leave spans alone. Default `graylane.lane`.
   */
  readonly spanAttribute?: string | false | undefined;
  /** Where notable events go. Default: nowhere (silent). */
  readonly logger?: LaneLogger | undefined;
}

const LANE_OBSERVABILITY_OPTION_KEYS: readonly string[] = Object.keys({
  meter: 1,
  metrics: 1,
  spanAttribute: 1,
  logger: 1,
} satisfies Record<keyof LaneObservabilityOptions, 1>);

/** Handle returned by {@link enableLaneObservability}. */
export interface LaneObservability {
  /** Unsubscribes this registration's handlers. Idempotent. */
  disable(): void;
}

type Api = OtelApiModule;
type Attributes = Readonly<Record<string, string>>;

// Channels @graylane/discovery declares and publishes on. Core does not depend on discovery: it
// subscribes by name (channel names are process-global) and reads the messages defensively.
const DISCOVERY_FALLBACK = 'graylane:discovery:fallback';
const DISCOVERY_NO_INSTANCE = 'graylane:discovery:no-instance';
const REGISTRY_ERROR = 'graylane:registry:error';
const DISCOVERY_OUTLIER = 'graylane:discovery:outlier';

interface FallbackMessage {
  readonly service?: unknown;
  readonly lane?: unknown;
  readonly servedLane?: unknown;
}
interface RegistryErrorMessage {
  readonly registry?: unknown;
  readonly service?: unknown;
  readonly error?: unknown;
}

/** Most attribute sets kept per cache; past it, sets are built per event (cardinality is the user's problem then). */
const MAX_CACHED_ATTRIBUTE_SETS = 1024;

function laneKey(lane: unknown): string {
  return typeof lane === 'string' ? lane : BASE_LANE_KEY;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/** Attribute objects shared by every event with the same values: recording allocates nothing. */
class AttributeCache {
  readonly #sets = new Map<string, Attributes>();

  get(key: string, build: () => Attributes): Attributes {
    let set = this.#sets.get(key);
    if (set === undefined) {
      set = Object.freeze(build());
      if (this.#sets.size < MAX_CACHED_ATTRIBUTE_SETS) this.#sets.set(key, set);
    }
    return set;
  }
}

/** One registration: its instruments, caches and channel handlers. */
class Registration implements LaneObservability {
  readonly #requests: OtelApi.Counter | null;
  readonly #invalid: OtelApi.Counter | null;
  readonly #fallbacks: OtelApi.Counter | null;
  readonly #noInstance: OtelApi.Counter | null;
  readonly #ejections: OtelApi.Counter | null;
  readonly #spanAttribute: string | null;
  readonly #logger: LaneLogger | null;
  readonly #trace: Api['trace'] | null;
  // Per lane, per carrier: `graylane.ingress.requests` attributes (lanes capped like the core counters).
  readonly #laneAttributes = new Map<string, Attributes>();
  readonly #cache = new AttributeCache();
  readonly #subscriptions: Array<[string, (message: unknown, name: string | symbol) => void]> = [];
  #enabled = true;

  constructor(
    apiModule: Api | null,
    meter: OtelApi.Meter | null,
    spanAttribute: string | null,
    logger: LaneLogger | null,
  ) {
    this.#trace = spanAttribute === null || apiModule === null ? null : apiModule.trace;
    this.#spanAttribute = spanAttribute;
    this.#logger = logger;
    if (meter !== null) {
      this.#requests = meter.createCounter(LANE_METRICS.requests, {
        description: 'Requests seen at graylane ingress, by lane',
        unit: '{request}',
      });
      this.#invalid = meter.createCounter(LANE_METRICS.invalidTags, {
        description: 'Lane tags ignored at ingress (invalid, oversized, unmapped)',
        unit: '{tag}',
      });
      this.#fallbacks = meter.createCounter(LANE_METRICS.fallbacks, {
        description: 'Calls served by a fallback lane because the requested lane had no instance',
        unit: '{call}',
      });
      this.#noInstance = meter.createCounter(LANE_METRICS.noInstance, {
        description: 'Calls that found no instance to serve them',
        unit: '{call}',
      });
      this.#ejections = meter.createCounter(LANE_METRICS.ejections, {
        description: 'Instances ejected by outlier detection (consecutive failures)',
        unit: '{ejection}',
      });
    } else {
      this.#requests = this.#invalid = this.#fallbacks = this.#noInstance = this.#ejections = null;
    }
    if (this.#trace !== null || this.#requests !== null)
      this.#on(channels.ingressLane.name as string, this.#onIngress);
    if (this.#invalid !== null || logger !== null)
      this.#on(channels.invalidTag.name as string, this.#onInvalidTag);
    if (this.#fallbacks !== null || logger !== null) this.#on(DISCOVERY_FALLBACK, this.#onFallback);
    if (this.#noInstance !== null || logger !== null) this.#on(DISCOVERY_NO_INSTANCE, this.#onNoInstance);
    if (logger !== null) this.#on(REGISTRY_ERROR, this.#onRegistryError);
    if (this.#ejections !== null) this.#on(DISCOVERY_OUTLIER, this.#onOutlier);
  }

  #onOutlier(message: unknown): void {
    const m = message as { event?: unknown; service?: unknown; lane?: unknown; reason?: unknown };
    if (m.event !== 'ejected') return;
    const service = text(m.service);
    const lane = laneKey(m.lane as string | undefined);
    const reason = text(m.reason);
    const attributes = this.#cache.get(`e\0${service}\0${lane}\0${reason}`, () => ({
      'graylane.service': service,
      'graylane.lane': lane,
      'graylane.reason': reason,
    }));
    this.#ejections?.add(1, attributes);
  }

  #on(name: string, handler: (message: unknown) => void): void {
    // Bound once per registration (not per event). A throwing subscriber would surface as an
    // uncaught exception, so every handler guards itself.
    const bound = (message: unknown): void => {
      try {
        handler.call(this, message);
      } catch {
        // Observability must never break the request it observes.
      }
    };
    diagnosticsChannel.subscribe(name, bound);
    this.#subscriptions.push([name, bound]);
  }

  #onIngress(message: unknown): void {
    const { lane, carrier } = message as IngressLaneMessage;
    if (lane !== undefined && this.#trace !== null) {
      this.#trace.getActiveSpan()?.setAttribute(this.#spanAttribute!, lane);
    }
    const requests = this.#requests;
    if (requests === null) return;
    const key = lane ?? BASE_LANE_KEY;
    const cacheKey = carrier === 'metadata' ? `m:${key}` : key;
    let attributes = this.#laneAttributes.get(cacheKey);
    if (attributes === undefined) {
      const counted = this.#laneAttributes.size < 2 * MAX_COUNTED_LANES ? key : OTHER_LANES;
      attributes = Object.freeze({ 'graylane.lane': counted, 'graylane.carrier': carrier });
      if (counted === key) this.#laneAttributes.set(cacheKey, attributes);
    }
    requests.add(1, attributes);
  }

  #onInvalidTag(message: unknown): void {
    const { carrier, key, reason, value } = message as InvalidTagMessage;
    const attributes = this.#cache.get(`i\0${carrier}\0${key}\0${reason}`, () => ({
      'graylane.carrier': carrier,
      'graylane.key': key,
      'graylane.reason': reason,
    }));
    this.#invalid?.add(1, attributes);
    if (this.#logger !== null) {
      this.#log('warn', 'invalid-tag', `ignored lane tag in ${carrier} ${key} (${reason})`, {
        ...attributes,
        'graylane.value': value,
      });
    }
  }

  #onFallback(message: unknown): void {
    const m = message as FallbackMessage;
    const service = text(m.service);
    const lane = laneKey(m.lane);
    const served = laneKey(m.servedLane);
    const attributes = this.#cache.get(`f\0${service}\0${lane}\0${served}`, () => ({
      'graylane.service': service,
      'graylane.lane': lane,
      'graylane.served_lane': served,
    }));
    this.#fallbacks?.add(1, attributes);
    if (this.#logger !== null) {
      this.#log('debug', 'fallback', `${service}: no ${lane} instance, served by ${served}`, attributes);
    }
  }

  #onNoInstance(message: unknown): void {
    const m = message as FallbackMessage;
    const service = text(m.service);
    const lane = laneKey(m.lane);
    const attributes = this.#cache.get(`n\0${service}\0${lane}`, () => ({
      'graylane.service': service,
      'graylane.lane': lane,
    }));
    this.#noInstance?.add(1, attributes);
    if (this.#logger !== null) {
      this.#log('warn', 'no-instance', `${service}: no instance can serve lane ${lane}`, attributes);
    }
  }

  #onRegistryError(message: unknown): void {
    const m = message as RegistryErrorMessage;
    const attributes: Record<string, string> = { 'graylane.registry': text(m.registry) };
    if (m.service !== undefined) attributes['graylane.service'] = text(m.service);
    const reason = m.error instanceof Error ? m.error.message : text(m.error);
    const where = m.service === undefined ? '' : ` (${text(m.service)})`;
    this.#log(
      'error',
      'registry-error',
      `registry ${text(m.registry)} failed${where}: ${reason}`,
      attributes,
      m.error,
    );
  }

  #log(
    level: LaneLogRecord['level'],
    event: LaneLogRecord['event'],
    message: string,
    attributes: Attributes,
    error?: unknown,
  ): void {
    const logger = this.#logger;
    if (logger === null) return;
    const record: LaneLogRecord =
      error === undefined
        ? { level, event, message, attributes }
        : { level, event, message, attributes, error };
    logger(record);
  }

  disable(): void {
    if (!this.#enabled) return;
    this.#enabled = false;
    for (const [name, handler] of this.#subscriptions) diagnosticsChannel.unsubscribe(name, handler);
    this.#subscriptions.length = 0;
  }
}

/**
 * Reports lanes to OpenTelemetry and to your logger by subscribing to graylane's diagnostics
 * channels — no adapter changes, nothing patched:
 *
 * - **traces**: at ingress (`graylane:ingress:lane`, published synchronously inside the request by
 *   every graylane middleware and interceptor), the active span — the server span under
 *   OpenTelemetry's HTTP instrumentation — gets `graylane.lane=<lane>`. Base-lane requests get no
 *   attribute.
 * - **metrics**: the counters of {@link LANE_METRICS} — requests per lane, ignored tags,
 *   fallbacks (service, requested -> served lane), calls with no instance — through the
 *   OpenTelemetry metrics API (no-ops without an SDK). Attribute sets are cached, so recording
 *   allocates nothing after the first event of a kind.
 * - **logs**: fallbacks (`debug`), ignored tags and calls with no instance (`warn`), registry
 *   failures (`error`) go to `logger`. No logger, no logging (the default).
 *
 * `@opentelemetry/api` (optional peer dependency) is loaded here, and only when traces or metrics
 * are on. Each call subscribes its own handlers; `disable()` removes them. While enabled, every
 * request allocates the small `graylane:ingress:lane` message.
 *
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` when traces or metrics are on and
 *   `@opentelemetry/api` cannot be loaded.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options.
 * @example
 * // after the OpenTelemetry SDK (tracer and meter providers) is set up:
 * const observability = enableLaneObservability({
 *   logger: (r) => console[r.level === 'debug' ? 'debug' : r.level](r.message),
 * });
 * // ... on shutdown
 * observability.disable();
 */
export function enableLaneObservability(options: LaneObservabilityOptions = {}): LaneObservability {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'must be an object');
  }
  assertKnownOptions('enableLaneObservability()', options, LANE_OBSERVABILITY_OPTION_KEYS);
  const metrics = options.metrics ?? true;
  if (typeof metrics !== 'boolean') throw new InvalidOptionError('metrics', 'must be a boolean');
  const spanAttribute = options.spanAttribute ?? LANE_SPAN_ATTRIBUTE;
  if (spanAttribute !== false && (typeof spanAttribute !== 'string' || spanAttribute.length === 0)) {
    throw new InvalidOptionError('spanAttribute', 'must be a non-empty attribute name or false');
  }
  const logger = options.logger ?? null;
  if (logger !== null && typeof logger !== 'function') {
    throw new InvalidOptionError('logger', 'must be a function (record) => void');
  }
  const meterOption = options.meter;
  if (
    meterOption !== undefined &&
    (typeof meterOption !== 'object' ||
      meterOption === null ||
      typeof (meterOption as { createCounter?: unknown }).createCounter !== 'function')
  ) {
    throw new InvalidOptionError('meter', 'must be an OpenTelemetry Meter');
  }
  const needsApi = spanAttribute !== false || (metrics && meterOption === undefined);
  const apiModule = needsApi ? loadOtelApi('enableLaneObservability()') : null;
  // A LaneMeter is structurally the part of OtelApi.Meter used here.
  const meter = metrics
    ? ((meterOption as OtelApi.Meter | undefined) ?? apiModule!.metrics.getMeter('@graylane/core'))
    : null;
  return new Registration(apiModule, meter, spanAttribute === false ? null : spanAttribute, logger);
}
