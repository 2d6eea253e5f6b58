import {
  assertKnownOptions,
  BASE_CONTEXT,
  type CompiledIngress,
  compileIngress,
  countIngress,
  createLaneContext,
  currentLaneContext,
  extractCarry,
  extractLane,
  FactoryNotCalledError,
  type IngressOptions,
  InvalidOptionError,
  type LaneContext,
  withLaneContext,
} from '@graylane/core';
import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerMethodDefinition,
  status,
} from '@grpc/grpc-js';
import { METADATA_GETTER } from './metadata-carrier';

/**
 * Options of {@link laneServerInterceptor}: where the lane is read from. These are core's
 * `IngressOptions`, applied to gRPC metadata keys instead of HTTP headers.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `header` | `'x-mse-tag'` | the metadata key of the lane (ignored when `sources` is given) |
 * | `sources` | `[header]` | keys tried in order; `{ key, values }` maps values to lanes (`version: 200 -> gray`) |
 * | `baggageKey` | `'x-mse-tag'` | lane entry of a W3C `baggage` metadata value, tried last; `false` ignores baggage |
 * | `baggageValues` | none | value -> lane map for the baggage entry |
 * | `carry` | none | extra metadata keys carried downstream like the lane |
 */
export interface LaneServerInterceptorOptions extends IngressOptions {}

const LANE_SERVER_INTERCEPTOR_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  sources: 1,
  baggageKey: 1,
  baggageValues: 1,
  carry: 1,
} satisfies Record<keyof LaneServerInterceptorOptions, 1>);

/**
 * A grpc-js server interceptor (grpc-js >= 1.10, `Server` option `interceptors`) that reads the
 * call's lane from its metadata — `x-mse-tag`, then the `baggage` entry, by default — and runs
 * the handler in that lane: unary, server-streaming, client-streaming and bidi. Everything the
 * handler starts (awaits, timers, stream `data`/`end` events, outbound HTTP and gRPC calls) sees
 * the lane. An invalid value is ignored and counted (`graylane:ingress:invalid-tag`); the call
 * goes on in the base lane. Binary (`-bin`) keys are never read.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options or a `-bin` key.
 * @example
 * const server = new Server({
 *   interceptors: [laneServerInterceptor({ sources: ['x-mse-tag', { key: 'version', values: { '200': 'gray' } }] })],
 * });
 * server.addService(echo.service, { unary: (call, cb) => cb(null, { lane: currentLane() ?? '' }) });
 */
export function laneServerInterceptor(options: LaneServerInterceptorOptions = {}): ServerInterceptor {
  if (isMethodDefinition(options)) {
    // `interceptors: [laneServerInterceptor]`: grpc-js calls the factory with (method, call) on
    // every call. Throwing here would escape grpc-js's stream handler; fail the call instead.
    // biome-ignore lint/complexity/noArguments: the call is the factory's second argument here
    const call = arguments[1] as ServerInterceptingCallInterface;
    return factoryNotCalledCall(call) as unknown as ServerInterceptor;
  }
  assertKnownOptions('laneServerInterceptor()', options, LANE_SERVER_INTERCEPTOR_OPTION_KEYS);
  const compiled = compileIngress(options);
  rejectBinaryKeys(compiled);
  return function laneServerInterceptor(
    _method: ServerMethodDefinition<unknown, unknown>,
    call: ServerInterceptingCallInterface,
  ): ServerInterceptingCall {
    return new LaneServerCall(call, compiled);
  };
}

function isMethodDefinition(value: unknown): boolean {
  const v = value as { path?: unknown; requestStream?: unknown; responseSerialize?: unknown };
  return (
    typeof v.path === 'string' &&
    typeof v.requestStream === 'boolean' &&
    typeof v.responseSerialize === 'function'
  );
}

let factoryWarned = false;

/** Ends the call with `INTERNAL` and the typed error's message; warns once with its code. */
function factoryNotCalledCall(call: ServerInterceptingCallInterface): ServerInterceptingCall {
  const error = new FactoryNotCalledError('laneServerInterceptor', 'interceptors: [laneServerInterceptor()]');
  if (!factoryWarned) {
    factoryWarned = true;
    process.emitWarning(error.message, { code: error.code });
  }
  return new ServerInterceptingCall(call, {
    start() {
      call.sendStatus({ code: status.INTERNAL, details: error.message });
    },
  });
}

/** The listener grpc-js's handlers pass to `start()` (not exported by name). */
type DownstreamListener = Parameters<ServerInterceptingCallInterface['start']>[0];
// grpc-js does not export PartialStatusObject by name.
type PartialStatusObject = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * One intercepted call. It is the call for the layer above (the handler, or the next
 * interceptor) and the listener of the call below. grpc-js invokes the handler and pushes stream
 * events from the downstream listener: the handler of unary and server-streaming calls from
 * half-close, of client-streaming and bidi calls from metadata; `data` from each message, `end`
 * from half-close, `cancelled` from cancel. Each of the four is forwarded inside the call's lane
 * context, so all of them run in its lane.
 *
 * It extends grpc-js's `ServerInterceptingCall` (the type a `ServerInterceptor` must return) but
 * forwards the per-call operations to the call below directly: this interceptor changes no
 * metadata, message or status, so grpc-js's responder and listener plumbing (closures and
 * pending-state bookkeeping on every event) would only add cost. Methods not overridden (peer,
 * deadline, host, auth context, …) are grpc-js's own, which forward the same way.
 *
 * In the base lane, with no lane active around the server, events are forwarded as they are: no
 * context switch and no closure per event (the lane is only known once metadata arrives, so the
 * one object per call stays: it is what reads the metadata).
 *
 * Why not `ServerListenerBuilder`: its `onCancel` has no `next`, so the handler's `cancelled`
 * event could not be put in the lane.
 */
class LaneServerCall extends ServerInterceptingCall {
  readonly #call: ServerInterceptingCallInterface;
  readonly #compiled: CompiledIngress;
  /** The call's lane context once metadata arrived; `null` while there is no lane to enter. */
  #context: LaneContext | null = null;
  #downstream: DownstreamListener | null = null;

  constructor(call: ServerInterceptingCallInterface, compiled: CompiledIngress) {
    super(call);
    this.#call = call;
    this.#compiled = compiled;
  }

  override start(listener: DownstreamListener): void {
    this.#downstream = listener;
    this.#call.start(this);
  }

  override sendMetadata(metadata: Metadata): void {
    this.#call.sendMetadata(metadata);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    this.#call.sendMessage(message, callback);
  }

  override sendStatus(status: PartialStatusObject): void {
    this.#call.sendStatus(status);
  }

  override startRead(): void {
    this.#call.startRead();
  }

  onReceiveMetadata(metadata: Metadata): void {
    const context = enterContext(metadata, this.#compiled);
    if (context === BASE_CONTEXT && currentLaneContext() === BASE_CONTEXT) {
      this.#downstream!.onReceiveMetadata(metadata);
      return;
    }
    this.#context = context;
    withLaneContext(context, () => this.#downstream!.onReceiveMetadata(metadata));
  }

  onReceiveMessage(message: unknown): void {
    const context = this.#context;
    if (context === null) this.#downstream!.onReceiveMessage(message);
    else withLaneContext(context, () => this.#downstream!.onReceiveMessage(message));
  }

  onReceiveHalfClose(): void {
    const context = this.#context;
    if (context === null) this.#downstream!.onReceiveHalfClose();
    else withLaneContext(context, () => this.#downstream!.onReceiveHalfClose());
  }

  onCancel(): void {
    const context = this.#context;
    if (context === null) this.#downstream!.onCancel();
    else withLaneContext(context, () => this.#downstream!.onCancel());
  }
}

function enterContext(metadata: Metadata, compiled: CompiledIngress): LaneContext {
  const lane = extractLane(metadata, METADATA_GETTER, compiled, 'metadata');
  const carry = extractCarry(metadata, METADATA_GETTER, compiled);
  countIngress(lane, 'metadata');
  return createLaneContext(lane, carry);
}

function rejectBinaryKeys(compiled: CompiledIngress): void {
  for (let i = 0; i < compiled.sources.length; i++) {
    if (compiled.sources[i]!.key.endsWith('-bin')) {
      throw new InvalidOptionError(`sources[${i}]`, 'binary (-bin) metadata keys cannot carry a lane');
    }
  }
  const carry = compiled.carry ?? [];
  for (let i = 0; i < carry.length; i++) {
    if (carry[i]!.endsWith('-bin')) {
      throw new InvalidOptionError(`carry[${i}]`, 'binary (-bin) metadata keys cannot be carried');
    }
  }
}
