import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertKnownOptions,
  type CompiledIngress,
  compileIngress,
  type IngressOptions,
  requestLaneContext,
  runInRequestLane,
} from '@graylane/core';
import {
  type DynamicModule,
  Inject,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  RequestMethod,
} from '@nestjs/common';

/** Options of {@link LaneModule.forRoot}: core's `IngressOptions` (where to read the lane, what to carry). */
export interface LaneModuleOptions extends IngressOptions {}

const LANE_MODULE_OPTION_KEYS: readonly string[] = Object.keys({
  header: 1,
  sources: 1,
  baggageKey: 1,
  baggageValues: 1,
  carry: 1,
} satisfies Record<keyof LaneModuleOptions, 1>);

/**
 * Injection token of the lane middleware function {@link LaneModule} installs: a
 * `(req, res, next)` function, for apps that want to apply it themselves.
 *
 * @example
 * constructor(@Inject(LANE_MIDDLEWARE) laneMiddleware: (req: unknown, res: unknown, next: () => void) => void) {}
 */
export const LANE_MIDDLEWARE = Symbol.for('graylane.nestjs.lane-middleware');

type LaneNestMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * The middleware both HTTP platforms run: Nest hands it Express's `req`/`res` on
 * `@nestjs/platform-express` and the raw Node request/response on `@nestjs/platform-fastify`
 * (through `@fastify/middie`); both carry `headers` and emit the request's events.
 */
function laneNestMiddleware(compiled: CompiledIngress): LaneNestMiddleware {
  return function laneNestMiddleware(req, res, next) {
    runInRequestLane(requestLaneContext(req.headers, compiled), req, res, next);
  };
}

/**
 * A NestJS module that runs every HTTP request in its lane, on `@nestjs/platform-express` and
 * `@nestjs/platform-fastify` alike: guards, interceptors, pipes, controllers (sync, async and
 * Observable), exception filters, and every listener of the request and response. It installs one
 * functional middleware for all routes; import it once, in the root module. The lane is read
 * like `laneMiddleware` reads it (`x-mse-tag`, then W3C `baggage`, by default); an invalid tag is
 * ignored and counted.
 *
 * For Nest's gRPC transport, pass `@graylane/grpc`'s interceptors in the transport's
 * `channelOptions` (see the README): no module is needed there.
 *
 * @example
 * @Module({ imports: [LaneModule.forRoot()], controllers: [AppController] })
 * export class AppModule {}
 */
export class LaneModule implements NestModule {
  readonly #middleware: LaneNestMiddleware;

  constructor(middleware: LaneNestMiddleware) {
    this.#middleware = middleware;
  }

  /**
   * The module with its options.
   *
   * @param options ingress options (`header`, `sources`, `baggageKey`, `baggageValues`, `carry`).
   *   Default: `x-mse-tag`, then baggage `x-mse-tag`; nothing carried.
   * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options, at once.
   * @example
   * LaneModule.forRoot({ carry: ['x-user-id'] })
   */
  static forRoot(options: LaneModuleOptions = {}): DynamicModule {
    assertKnownOptions('LaneModule.forRoot()', options, LANE_MODULE_OPTION_KEYS);
    const middleware = laneNestMiddleware(compileIngress(options));
    return { module: LaneModule, providers: [{ provide: LANE_MIDDLEWARE, useValue: middleware }] };
  }

  /** Installs the lane middleware for every route. Nest calls this. */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(this.#middleware).forRoutes({ path: '*', method: RequestMethod.ALL });
  }
}

// The decorators, applied as functions (this repository compiles without decorator syntax).
Inject(LANE_MIDDLEWARE)(LaneModule, undefined as never, 0);
Module({})(LaneModule);
