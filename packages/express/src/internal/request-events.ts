import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentLaneContext, type LaneContext, withLaneContext } from '@graylane/core';

/**
 * Keeps the events of a request and its response in the request's lane.
 *
 * Node emits 'data'/'end' on a request and 'finish'/'close' on a response from the socket's async
 * context, not the request's: a body parser that calls `next()` from 'end', or a `res.on('finish')`
 * listener, would run outside the lane. So `emit` is wrapped, and listeners run in the lane
 * context recorded for their request.
 *
 * Where the wrapper lives matters for speed. Express re-prototypes every req/res onto its app's
 * `app.request`/`app.response`, and on V8 11–12 (Node 20, 22) adding a property to such an object
 * costs about 1.5 µs — an own `emit` plus its state on req and res measured 9–15 µs per request.
 * So for Express the wrapper is defined once, on the outermost app prototype of the request's
 * chain (the app the user built: never Node's or Express's shared prototypes), and the lane of
 * each request is one WeakMap entry. Requests that are not Express's (a plain `http` server,
 * Connect) get an own `emit`, which costs nothing there.
 */

type Emit = (this: object, event: string | symbol, ...args: unknown[]) => boolean;
interface Emitter {
  emit: Emit;
}

// Process-wide, under Symbol.for keys: two installed copies of this package record lanes in one
// map and never wrap the same prototype twice.
const kLanes = Symbol.for('graylane.express.request-lanes.v1');
const kWrapped = Symbol.for('graylane.express.lane-emit.v1');

type LaneMap = WeakMap<object, LaneContext>;

function sharedLanes(): LaneMap {
  const holder = globalThis as { [kLanes]?: LaneMap };
  let lanes = holder[kLanes];
  if (lanes === undefined) {
    lanes = new WeakMap();
    Object.defineProperty(holder, kLanes, {
      value: lanes,
      enumerable: false,
      configurable: false,
      writable: false,
    });
  }
  return lanes;
}

/** Lane context of each bound request (keyed by the IncomingMessage; a response uses `res.req`). */
const lanes = sharedLanes();

/** The lane recorded for a request, or for the request of a response. */
function laneOfRequest(emitter: object): LaneContext | undefined {
  return lanes.get(emitter);
}
function laneOfResponse(emitter: object): LaneContext | undefined {
  const req = (emitter as { req?: object }).req;
  return req === undefined ? undefined : lanes.get(req);
}

/**
 * An `emit` for `owner` that runs listeners in the lane `laneOf(this)` returns. It calls the
 * `emit` `owner` had before (`previous`), else the one its prototype has at call time, so later
 * patches of Node's prototypes still apply and an object inheriting from a bound one never
 * recurses.
 */
function laneEmitFor(
  owner: object,
  previous: Emit | undefined,
  laneOf: (emitter: object) => LaneContext | undefined,
): Emit {
  return function laneEmit(this: object, event: string | symbol) {
    const emit = previous ?? (Object.getPrototypeOf(owner) as Emitter).emit;
    const context = laneOf(this);
    // `emit.apply(this, arguments)` forwards any arity without allocating an array; `arguments`
    // must not escape into a closure here, or V8 materialises it on every call.
    // An event nobody listens to (a request's 'readable' on a GET, typically) needs no lane.
    if (
      context === undefined ||
      context === currentLaneContext() ||
      (this as EventEmitter).listenerCount(event) === 0
    ) {
      // biome-ignore lint/complexity/noArguments: see above.
      return emit.apply(this, arguments as unknown as Parameters<Emit>);
    }
    // biome-ignore lint/complexity/noArguments: copied once, only when the lane must be entered.
    return emitInLane(context, emit, this, Array.prototype.slice.call(arguments) as Parameters<Emit>);
  };
}

function emitInLane(context: LaneContext, emit: Emit, target: object, args: Parameters<Emit>): boolean {
  return withLaneContext(context, () => emit.apply(target, args));
}

/** Defines the lane-keeping `emit` on `owner` once; true when this call defined it. */
function wrapEmit(owner: object, laneOf: (emitter: object) => LaneContext | undefined): boolean {
  const target = owner as Emitter & { [kWrapped]?: true };
  if (Object.hasOwn(target, kWrapped)) return false;
  const previous = Object.hasOwn(target, 'emit') ? target.emit : undefined;
  Object.defineProperty(target, 'emit', {
    value: laneEmitFor(owner, previous, laneOf),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  Object.defineProperty(target, kWrapped, { value: true, configurable: true, enumerable: false });
  return true;
}

/**
 * The outermost Express app prototype (`app.request` / `app.response`: own `app`) on the chain of
 * `emitter`, or `undefined` when it has none. Outermost, so that the wrapper still applies after a
 * mounted sub-app hands the request back to its parent.
 */
function appPrototypeOf(emitter: object): object | undefined {
  let found: object | undefined;
  for (
    let p = Object.getPrototypeOf(emitter) as object | null;
    p !== null;
    p = Object.getPrototypeOf(p) as object | null
  ) {
    if (Object.hasOwn(p, 'app')) found = p;
  }
  return found;
}

// The request/response prototypes seen last, already wrapped: one compare per request after the first.
let lastRequestPrototype: object | null = null;
let lastResponsePrototype: object | null = null;

function ensureWrapped(
  emitter: object,
  laneOf: (emitter: object) => LaneContext | undefined,
  lastPrototype: object | null,
): object | null {
  const prototype = Object.getPrototypeOf(emitter) as object | null;
  if (prototype === lastPrototype && prototype !== null) return prototype;
  const app = appPrototypeOf(emitter);
  if (app === undefined) {
    // Not an Express request: wrap this object itself (cheap on objects nobody re-prototyped).
    wrapEmit(emitter, laneOf);
    return lastPrototype;
  }
  // An own `emit` put on this request by earlier middleware (cls-hooked's bindEmitter, say) was
  // copied from the prototype before the wrapper existed: wrap it too, this once.
  if (wrapEmit(app, laneOf) && Object.hasOwn(emitter, 'emit')) wrapEmit(emitter, laneOf);
  return prototype;
}

/**
 * Runs every later event of `req` and `res` in `context`. A later call for the same request (a
 * second lane middleware) replaces the context.
 */
export function keepEventsInLane(req: IncomingMessage, res: ServerResponse, context: LaneContext): void {
  lanes.set(req, context);
  lastRequestPrototype = ensureWrapped(req, laneOfRequest, lastRequestPrototype);
  lastResponsePrototype = ensureWrapped(res, laneOfResponse, lastResponsePrototype);
}
