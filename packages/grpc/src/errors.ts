import { GraylaneError } from '@graylane/core';

/**
 * `GL_ERR_GRPC_UNROUTABLE`: a call through a lane channel found no instance to serve it — no
 * instance of its lane, of the lane's fallbacks or of the base lane, or none of them reachable.
 * The call fails with status `UNAVAILABLE`; this error's message is the status `details`, and
 * the trailing metadata carries `graylane-error-code: GL_ERR_GRPC_UNROUTABLE`.
 *
 * @example
 * client.unary(req, (err) => {
 *   if (err?.code === status.UNAVAILABLE && err.metadata.get('graylane-error-code')[0] === 'GL_ERR_GRPC_UNROUTABLE') {
 *     // err.details: "graylane: cannot route a call to svc-b in lane gray: ..."
 *   }
 * });
 */
export class UnroutableCallError extends GraylaneError {
  readonly service: string;
  /** The call's lane, `undefined` for the base lane. */
  readonly lane: string | undefined;

  constructor(service: string, lane: string | undefined, reason: string, options?: { cause?: unknown }) {
    super(
      `graylane: cannot route a call to ${service} in lane ${lane ?? '(base)'}: ${reason}`,
      'GL_ERR_GRPC_UNROUTABLE',
      options,
    );
    this.name = 'UnroutableCallError';
    this.service = service;
    this.lane = lane;
  }
}

/**
 * `GL_ERR_GRPC_SCHEME_CLOSED`: a lane channel resolves a target whose scheme has no discovery
 * attached (its registration was closed). Channels report it as an `UNAVAILABLE` resolution
 * failure and keep their last instance list.
 *
 * @example
 * const registration = registerLaneChannel({ discovery });
 * registration.close(); // new graylane:/// channels now fail with GL_ERR_GRPC_SCHEME_CLOSED details
 */
export class SchemeClosedError extends GraylaneError {
  readonly scheme: string;

  constructor(scheme: string) {
    super(
      `graylane: no discovery is registered for ${scheme}:/// targets (the registration was closed)`,
      'GL_ERR_GRPC_SCHEME_CLOSED',
    );
    this.name = 'SchemeClosedError';
    this.scheme = scheme;
  }
}

/**
 * `GL_ERR_GRPC_UNSUPPORTED`: the installed `@grpc/grpc-js` lacks the experimental resolver and
 * load-balancer API the lane channel is written against (it needs grpc-js >= 1.14).
 *
 * @example
 * try {
 *   registerLaneChannel({ discovery });
 * } catch (err) {
 *   if ((err as GraylaneError).code === 'GL_ERR_GRPC_UNSUPPORTED') useDnsTargets();
 * }
 */
export class UnsupportedGrpcError extends GraylaneError {
  constructor(missing: string) {
    super(
      `graylane: the lane channel needs @grpc/grpc-js >= 1.14 (missing experimental.${missing})`,
      'GL_ERR_GRPC_UNSUPPORTED',
    );
    this.name = 'UnsupportedGrpcError';
  }
}
