import {
  assertKnownOptions,
  currentLaneContext,
  FactoryNotCalledError,
  InvalidOptionError,
  LANE_METADATA_KEY,
  type LaneContext,
} from '@graylane/core';
import {
  InterceptingCall,
  type Interceptor,
  type InterceptorOptions,
  type Metadata,
  type NextCall,
} from '@grpc/grpc-js';
import { isTextMetadataKey, isTextMetadataValue } from './metadata-carrier';

/** Options of {@link laneClientInterceptor}. */
export interface LaneClientInterceptorOptions {
  /** Metadata key the lane is written to. Default `x-mse-tag`. */
  readonly metadataKey?: string | undefined;
  /** Also write the carried headers of the current context (see core `IngressOptions.carry`). Default `true`. */
  readonly carry?: boolean | undefined;
}

const LANE_CLIENT_INTERCEPTOR_OPTION_KEYS: readonly string[] = Object.keys({
  metadataKey: 1,
  carry: 1,
} satisfies Record<keyof LaneClientInterceptorOptions, 1>);

/**
 * A grpc-js client interceptor that writes the current lane (`currentLaneContext()`: the lane and
 * any carried headers) into the outgoing metadata of every call, unless the caller already set
 * that key. In the base lane it adds nothing and wraps nothing. The context is read when the call
 * is created, so create calls inside the request (handler, middleware) whose lane they carry.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` when `metadataKey` is not a text metadata key.
 * @example
 * const client = new EchoClient(address, credentials.createInsecure(), {
 *   interceptors: [laneClientInterceptor()],
 * });
 * withLane('gray', () => client.unary({}, callback)); // sent with x-mse-tag: gray
 */
export function laneClientInterceptor(options: LaneClientInterceptorOptions = {}): Interceptor {
  // `interceptors: [laneClientInterceptor]`: grpc-js calls the factory with (callOptions, nextCall).
  if (typeof (options as { method_definition?: unknown }).method_definition === 'object') {
    throw new FactoryNotCalledError('laneClientInterceptor', 'interceptors: [laneClientInterceptor()]');
  }
  assertKnownOptions('laneClientInterceptor()', options, LANE_CLIENT_INTERCEPTOR_OPTION_KEYS);
  const key = options.metadataKey ?? LANE_METADATA_KEY;
  if (typeof key !== 'string' || !isTextMetadataKey(key)) {
    throw new InvalidOptionError('metadataKey', `${JSON.stringify(key)} is not a text metadata key`);
  }
  if (options.carry !== undefined && typeof options.carry !== 'boolean') {
    throw new InvalidOptionError('carry', 'must be a boolean');
  }
  const withCarry = options.carry !== false;
  return function laneClientInterceptor(
    callOptions: InterceptorOptions,
    nextCall: NextCall,
  ): InterceptingCall {
    const context = currentLaneContext();
    if (context.lane === undefined && (!withCarry || context.carry === undefined)) {
      // Nothing to write: hand back the next call unwrapped. grpc-js chains interceptors through
      // the InterceptingCallInterface only, so skipping our layer is safe and costs nothing.
      return nextCall(callOptions) as InterceptingCall;
    }
    return new LaneClientCall(nextCall(callOptions), context, key, withCarry);
  };
}

// grpc-js does not export these by name.
type InterceptingCallInterface = ReturnType<NextCall>;
type Listener = Parameters<InterceptingCallInterface['start']>[1];
type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

/**
 * One outgoing call in a lane. It is grpc-js's `InterceptingCall` (what an `Interceptor` returns)
 * whose `start` writes the lane into the metadata. The other per-call operations go straight to
 * the next call: this interceptor changes nothing else, so grpc-js's requester plumbing (bound
 * listener copies and closures per operation) would only add cost. Methods not overridden (peer,
 * auth context, …) are grpc-js's own, which forward the same way.
 */
class LaneClientCall extends InterceptingCall {
  readonly #next: InterceptingCallInterface;
  readonly #context: LaneContext;
  readonly #key: string;
  readonly #withCarry: boolean;

  constructor(next: InterceptingCallInterface, context: LaneContext, key: string, withCarry: boolean) {
    super(next);
    this.#next = next;
    this.#context = context;
    this.#key = key;
    this.#withCarry = withCarry;
  }

  override start(metadata: Metadata, listener?: Listener): void {
    writeContext(metadata, this.#context, this.#key, this.#withCarry);
    this.#next.start(metadata, listener);
  }

  override sendMessageWithContext(context: MessageContext, message: unknown): void {
    this.#next.sendMessageWithContext(context, message);
  }

  override sendMessage(message: unknown): void {
    this.#next.sendMessage(message);
  }

  override startRead(): void {
    this.#next.startRead();
  }

  override halfClose(): void {
    this.#next.halfClose();
  }

  override cancelWithStatus(
    status: Parameters<InterceptingCallInterface['cancelWithStatus']>[0],
    details: string,
  ): void {
    this.#next.cancelWithStatus(status, details);
  }
}

function writeContext(metadata: Metadata, context: LaneContext, key: string, withCarry: boolean): void {
  const lane = context.lane;
  if (lane !== undefined && metadata.get(key).length === 0) metadata.set(key, lane);
  const carry = context.carry;
  if (!withCarry || carry === undefined) return;
  for (let i = 0; i < carry.length; i++) {
    const [name, value] = carry[i]!;
    if (isTextMetadataKey(name) && isTextMetadataValue(value) && metadata.get(name).length === 0) {
      metadata.set(name, value);
    }
  }
}
