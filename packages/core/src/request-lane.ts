import * as diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HeaderRecord, RECORD_GETTER } from './carrier';
import {
  BASE_CONTEXT,
  currentLaneContext,
  type LaneContext,
  laneContextFor,
  withLaneContext,
} from './context';
import { countIngress } from './counters';
import { FactoryNotCalledError, InvalidOptionError } from './errors';
import {
  type CompiledIngress,
  compileIngress,
  extractCarry,
  extractLane,
  type IngressOptions,
} from './ingress';
import { INGRESS_OPTION_KEYS } from './internal/ingress-options';
import { assertKnownOptions, isIncomingRequest } from './options';

/**
 * The part of an event emitter a request binding needs: Node's `IncomingMessage`,
 * `ServerResponse`, `Http2ServerRequest`/`Http2ServerResponse`, and anything else built on
 * `EventEmitter`.
 */
export interface RequestEmitter {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  listenerCount(event: string | symbol): number;
}

type Emit = RequestEmitter['emit'];

/**
 * What a bound emitter holds, as one own property: its lane (`null`: bound at creation, lane not
 * known yet), the `emit` it had when it was bound, and the emitter itself (tells its own binding
 * from one it inherits, without `Object.hasOwn`). The emitter's own properties are written once
 * (this record and `emit`, the one shared `laneEmit`: no closure per emitter); setting the lane
 * later rewrites the record's field, not the emitter's. Reads go to the record, whose hidden class
 * every binding shares, instead of the emitter: on Node 22 (V8 12) a request Express re-prototyped
 * has a hidden class of its own, so each lookup on it misses V8's caches (bench/hop/callgrind-diff.mjs
 * shows the misses); `listenerCount`, read once here, is not looked up on its prototypes per event.
 */
interface LaneBinding {
  context: LaneContext | null;
  readonly emit: Emit;
  readonly listenerCount: RequestEmitter['listenerCount'];
  readonly owner: object;
}

// `Symbol.for`, so two installed copies of core see each other's bindings and rebind instead of
// stacking.
const kLaneBinding = Symbol.for('graylane.request-lane.binding.v3');

type BoundEmitter = RequestEmitter & {
  emit: Emit;
  [kLaneBinding]?: LaneBinding;
};

/**
 * The `emit` of every bound emitter: runs its listeners in the emitter's lane. The original `emit`
 * (its own, or the inherited `EventEmitter` one) was stored when it was bound, so an object
 * inheriting from the emitter never recurses, and Express re-prototyping the request (mounted
 * apps) changes nothing, as no prototype on its chain defines `emit`. A `null` lane (an emitter
 * bound at creation, see {@link prebindServerRequests}) forwards every event unchanged.
 */
function laneEmit(this: BoundEmitter, event: string | symbol): boolean {
  const binding = this[kLaneBinding] as LaneBinding;
  const context = binding.context;
  // An event nobody listens to (most: 4 of the 6 a plain request emits), or one emitted in the
  // lane already (the response is written from the lane), needs no context switch. Listeners are
  // counted first: reading the current context costs more (a store lookup). `emit.apply(this,
  // arguments)` forwards any arity without allocating.
  if (context === null || binding.listenerCount.call(this, event) === 0 || context === currentLaneContext()) {
    // biome-ignore lint/complexity/noArguments: see above.
    return binding.emit.apply(this, arguments as unknown as Parameters<Emit>);
  }
  // biome-ignore lint/complexity/noArguments: materialised only when the lane must be entered.
  return emitInLane(context, binding.emit, this, arguments as unknown as Parameters<Emit>);
}

function emitInLane(
  context: LaneContext,
  emit: Emit,
  target: RequestEmitter,
  args: Parameters<Emit>,
): boolean {
  return withLaneContext(context, () => emit.apply(target, args));
}

/**
 * Runs every later listener of `emitter` in `context`, whoever emits the event and whenever the
 * listener was added. Binds this one object (own properties: its `emit` and its binding record):
 * no prototype is touched, so nothing is shared with another request, and no function is created.
 * Binding an emitter again replaces its lane.
 *
 * Node emits a request's `'data'`/`'end'` and a response's `'close'` from the connection's async
 * context, not the request's; this is what keeps body parsers that continue from `'end'` and
 * `res.on('finish')` listeners in the lane. {@link runInRequestLane} calls it for you.
 *
 * @example
 * bindEmitterToLane(req, createLaneContext('gray'));
 * req.on('end', () => currentLane()); // 'gray', though Node emits 'end' from the socket
 */
export function bindEmitterToLane(emitter: RequestEmitter, context: LaneContext): void {
  const target = emitter as BoundEmitter;
  const binding = ownBinding(target);
  // Bound already (at creation, or before, by this or another copy of core): set the lane only.
  if (binding !== undefined) binding.context = context;
  else bind(target, context);
}

/** The emitter's own binding; an object inheriting from a bound emitter sees that one's, not its own. */
function ownBinding(target: BoundEmitter): LaneBinding | undefined {
  const binding = target[kLaneBinding];
  return binding !== undefined && binding.owner === target ? binding : undefined;
}

/** Plain assignments: cheaper than defineProperty, and `emit` stays writable like the inherited one. */
function bind(target: BoundEmitter, context: LaneContext | null): void {
  const previous = target.emit;
  const inherited = target[kLaneBinding];
  // Inheriting from a bound emitter: keep the `emit` that one had, never `laneEmit` itself, which
  // would call itself forever.
  const emit = previous === laneEmit && inherited !== undefined ? inherited.emit : previous;
  const binding: LaneBinding = { context, emit, listenerCount: target.listenerCount, owner: target };
  target[kLaneBinding] = binding;
  target.emit = laneEmit;
}

// Lowercase header names whose presence marks a request that may run in a lane (the ingress
// sources' keys, `baggage`, carried headers), in the order checked; `null` until
// prebindServerRequests is first called.
let prebindKeys: string[] | null = null;

/**
 * From now on, gives the requests of this process's `node:http`/`node:https` servers that carry
 * a lane key of `compiled` (one of its sources' headers, `baggage` unless baggage is off, or a
 * carried header) their `emit` binding (see {@link bindEmitterToLane}), and their responses too,
 * when Node creates them, before the `'request'` event, with no lane yet: it forwards every event
 * unchanged until the request is bound. Binding it later then only sets its lane, instead of
 * adding a property. Requests without any such header are not touched: they run in the base lane
 * and need no binding (binding costs property additions, ~9,000 instructions per request on
 * Node 24 when every request was bound; bench/results/hop.md).
 *
 * For adapters whose framework re-prototypes `req`/`res` before the adapter runs (Express): on
 * V8 before 13 (Node 22), an own property added after `Object.setPrototypeOf` gives each object
 * a hidden class of its own, which cost about 10 µs per request. Binding at creation uses
 * Node's public `http.server.request.start` diagnostics channel; requests it does not reach
 * (`node:http2`) are bound when the adapter runs, as before. Call it once per compiled ingress
 * (its keys are added to the ones checked); calling it again with the same keys changes nothing.
 *
 * @example
 * prebindServerRequests(compiled); // once, when the middleware is created
 * app.use((req, res, next) => runInRequestLane(requestLaneContext(req.headers, compiled), req, res, next));
 */
export function prebindServerRequests(compiled: CompiledIngress): void {
  const keys = [
    ...compiled.sources.map((source) => source.key),
    ...(compiled.baggage === undefined ? [] : ['baggage']),
    ...(compiled.carry ?? []),
  ];
  if (prebindKeys === null) {
    prebindKeys = [];
    diagnosticsChannel.subscribe('http.server.request.start', onServerRequestStart);
  }
  // Replaced, never mutated: a request being checked keeps its snapshot.
  const added = keys.filter((key, i) => keys.indexOf(key) === i && !prebindKeys!.includes(key));
  if (added.length > 0) prebindKeys = [...prebindKeys, ...added];
}

function onServerRequestStart(message: unknown): void {
  const { request, response } = message as {
    request: RequestEmitter & { headers: HeaderRecord };
    response: RequestEmitter;
  };
  if (!carriesLaneKey(request.headers)) return;
  prebind(request);
  prebind(response);
}

function carriesLaneKey(headers: HeaderRecord): boolean {
  const keys = prebindKeys!;
  for (let i = 0; i < keys.length; i++) if (headers[keys[i]!] !== undefined) return true;
  return false;
}

function prebind(emitter: RequestEmitter): void {
  const target = emitter as BoundEmitter;
  if (ownBinding(target) === undefined) bind(target, null);
}

/**
 * Runs `fn` in `context` with the events of `req` and `res` bound to it (see
 * {@link bindEmitterToLane}): the request is in its lane from here to its last event. In the
 * base lane, with no lane active around the call, `fn` just runs: nothing to enter, nothing to
 * bind, nothing allocated. Framework adapters call this once per request with the framework's
 * raw Node request and response.
 *
 * @returns what `fn` returns.
 * @example
 * // A Koa middleware
 * app.use((ctx, next) => runInRequestLane(requestLaneContext(ctx.req.headers, compiled), ctx.req, ctx.res, next));
 */
export function runInRequestLane<R>(
  context: LaneContext,
  req: RequestEmitter,
  res: RequestEmitter,
  fn: () => R,
): R {
  if (context === BASE_CONTEXT && currentLaneContext() === BASE_CONTEXT) return fn();
  bindEmitterToLane(req, context);
  bindEmitterToLane(res, context);
  return withLaneContext(context, fn);
}

/**
 * The lane context of an inbound request from its headers: the lane (see `extractLane`) and the
 * carried headers, counted at ingress (`graylane:ingress:lane`). Invalid tags are ignored and
 * counted; never throws on request input. Allocation-free for a request without carried headers.
 *
 * @param headers Node's `req.headers` (HTTP/1 or HTTP/2) or any record keyed by lowercase name.
 * @param compiled options from `compileIngress`, compiled once at setup.
 * @example
 * const compiled = compileIngress({ carry: ['x-user-id'] });
 * const context = requestLaneContext(req.headers, compiled);
 */
export function requestLaneContext(headers: HeaderRecord, compiled: CompiledIngress): LaneContext {
  const lane = extractLane(headers, RECORD_GETTER, compiled);
  const carry = extractCarry(headers, RECORD_GETTER, compiled);
  countIngress(lane);
  // `lane` is valid (extractLane checked it); `carry` is undefined or non-empty.
  return carry === undefined ? laneContextFor(lane) : Object.freeze({ lane, carry });
}

/** A request as {@link laneRequestListener} needs it: headers plus events. */
export interface LaneRequest extends RequestEmitter {
  readonly headers: HeaderRecord;
}

/**
 * Wraps a `node:http`, `node:https` or `node:http2` (compatibility API) request listener so each
 * request runs in its lane: the listener, everything it starts, and every later event of the
 * request and response (body `'data'`/`'end'`, `'finish'`, `'close'`). The lane is read like
 * `laneMiddleware` reads it (`x-mse-tag`, then the W3C `baggage` entry, by default); an invalid
 * tag is ignored and counted.
 *
 * The request and response types come from where the wrapper goes (`http.createServer`,
 * `http2.createServer`, …), else `IncomingMessage`/`ServerResponse`; never from the listener, so
 * an Express or Connect app, whose own signatures name Express's `Request`/`Response`, fits
 * without type arguments.
 *
 * @param listener the request listener (a handler, an Express app, …), called with the server as
 *   `this`.
 * @param options where to read the lane and which headers to carry (`IngressOptions`). Default:
 *   `x-mse-tag`, then baggage `x-mse-tag`; nothing carried.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for a listener that is not a function or
 *   malformed options, at setup.
 * @example
 * http.createServer(laneRequestListener((req, res) => {
 *   res.end(currentLane() ?? 'base');
 * })).listen(8080);
 * @example
 * // An Express app, bound before Express touches req/res (no laneMiddleware needed)
 * http.createServer(laneRequestListener(app)).listen(8080);
 */
export function laneRequestListener<
  Req extends LaneRequest = IncomingMessage,
  Res extends RequestEmitter = ServerResponse,
>(
  listener: (this: unknown, req: NoInfer<Req>, res: NoInfer<Res>) => unknown,
  options?: IngressOptions,
): (req: Req, res: Res) => void;
/**
 * A listener whose parameter types are written out (say, `(req: Http2ServerRequest, res:
 * Http2ServerResponse) => …` outside any `createServer` call): the wrapper takes the same types.
 */
export function laneRequestListener<Req extends LaneRequest, Res extends RequestEmitter>(
  listener: (this: unknown, req: Req, res: Res) => unknown,
  options?: IngressOptions,
): (req: Req, res: Res) => void;
export function laneRequestListener<Req extends LaneRequest, Res extends RequestEmitter>(
  listener: (this: unknown, req: Req, res: Res) => unknown,
  options?: IngressOptions,
): (req: Req, res: Res) => void {
  if (isIncomingRequest(listener)) {
    // `createServer(laneRequestListener)`: the factory got (req, res). Answer every request with a
    // 500 that says what to write, as `diagnosticsHandler` does.
    // biome-ignore lint/complexity/noArguments: the second argument is the response
    listenerNotCalled(listener, arguments[1]);
    return listenerNotCalled;
  }
  if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'must be a function');
  assertKnownOptions('laneRequestListener()', options, INGRESS_OPTION_KEYS);
  const compiled = compileIngress(options);
  return function laneRequestListener(this: unknown, req: Req, res: Res): void {
    const context = requestLaneContext(req.headers, compiled);
    if (context === BASE_CONTEXT && currentLaneContext() === BASE_CONTEXT) {
      listener.call(this, req, res);
      return;
    }
    runInRequestLane(context, req, res, () => listener.call(this, req, res));
  };
}

/** What `createServer(laneRequestListener)` gets on every request: a 500 saying what to write. */
function listenerNotCalled(_req: unknown, res: unknown): void {
  const error = new FactoryNotCalledError(
    'laneRequestListener',
    'createServer(laneRequestListener((req, res) => { ... }))',
  );
  const r = res as Partial<Pick<ServerResponse, 'statusCode' | 'setHeader' | 'end' | 'headersSent'>>;
  if (typeof r.end !== 'function') throw error;
  if (r.headersSent !== true && typeof r.setHeader === 'function') {
    r.statusCode = 500;
    r.setHeader('content-type', 'text/plain; charset=utf-8');
  }
  r.end(`${error.code}: ${error.message}\n`);
}
