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
 * Where the wrapper and the lane live is chosen per V8 version, because Express re-prototypes
 * every req/res onto its app's `app.request`/`app.response`:
 *
 * - `'app'` (V8 < 13: Node 20, 22): adding a property to a re-prototyped object costs about
 *   1.5 µs there. The wrapper is defined once, on the outermost app prototype of the request's
 *   chain (the app the user built: never Node's or Express's shared prototypes), and the lane of
 *   each request is one WeakMap entry.
 * - `'own'` (V8 >= 13: Node 24): property additions cost nothing there, while the WeakMap and
 *   the shared wrapper do. Each req and res gets its own wrapper and its lane as a symbol-keyed
 *   property, by plain assignment (`defineProperty` per request cost 2-3% of a hop more).
 *
 * Measured with bench/hop (CPU per request of one Express hop forwarding over undici, both
 * placements interleaved in one process; Node 20.20.2 and 24.21.0, 2-core AMD EPYC): Node 20 'app'
 * 1.073x hand-written header copying, 'own' 1.135x; Node 24 'own' 1.090x, 'app' 1.116x.
 *
 * Requests that are not Express's (a plain `http` server, Connect) always get their own wrapper.
 * Both placements behave the same; the tests run each on every runtime.
 */

type Emit = (this: object, event: string | symbol, ...args: unknown[]) => boolean;
interface Emitter {
  emit: Emit;
}
type LaneOf = (emitter: object) => LaneContext | undefined;

/** Where the `emit` wrapper and each request's lane live (see the file comment). */
export type EventPlacement = 'app' | 'own';

const DEFAULT_PLACEMENT: EventPlacement = Number.parseInt(process.versions.v8, 10) >= 13 ? 'own' : 'app';
let placement: EventPlacement = DEFAULT_PLACEMENT;

/**
 * Selects the placement; `undefined` restores the one chosen for this runtime.
 * @internal For tests, which run both placements on every runtime.
 */
export function setEventPlacement(next: EventPlacement | undefined): void {
  placement = next ?? DEFAULT_PLACEMENT;
}

// Process-wide, under Symbol.for keys: two installed copies of this package record lanes in one
// place and never wrap the same object twice.
const kLanes = Symbol.for('graylane.express.request-lanes.v1');
const kLane = Symbol.for('graylane.express.lane.v1');
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

/** 'app' placement: lane context of each bound request (a response uses `res.req`). */
const lanes = sharedLanes();

function laneOfRequest(emitter: object): LaneContext | undefined {
  return lanes.get(emitter);
}
function laneOfResponse(emitter: object): LaneContext | undefined {
  const req = (emitter as { req?: object }).req;
  return req === undefined ? undefined : lanes.get(req);
}
/** 'own' placement, and requests that are not Express's: the lane is on the emitter. */
function laneOfEmitter(emitter: object): LaneContext | undefined {
  return (emitter as { [kLane]?: LaneContext })[kLane];
}

/**
 * An `emit` for `owner` that runs listeners in the lane `laneOf(this)` returns. It calls the
 * `emit` `owner` had before (`previous`), else the one its prototype has at call time, so later
 * patches of Node's prototypes still apply and an object inheriting from a bound one never
 * recurses.
 */
function laneEmitFor(owner: object, previous: Emit | undefined, laneOf: LaneOf): Emit {
  return function laneEmit(this: object, event: string | symbol) {
    const emit = previous ?? (Object.getPrototypeOf(owner) as Emitter).emit;
    // `emit.apply(this, arguments)` forwards any arity without allocating an array; `arguments`
    // must not escape into a closure here, or V8 materialises it on every call. Checked first:
    // an event nobody listens to needs no lane (5 of the 7 events of a plain GET, measured).
    if ((this as EventEmitter).listenerCount(event) === 0) {
      // biome-ignore lint/complexity/noArguments: see above.
      return emit.apply(this, arguments as unknown as Parameters<Emit>);
    }
    const context = laneOf(this);
    if (context === undefined || context === currentLaneContext()) {
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
function wrapEmit(owner: object, laneOf: LaneOf): boolean {
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

/** Records `context` on `emitter` itself and wraps its own `emit` (once). */
function keepOnEmitter(emitter: object, context: LaneContext): void {
  const target = emitter as Emitter & { [kLane]?: LaneContext };
  if (!Object.hasOwn(target, kLane)) {
    // Plain assignments, not defineProperty: this runs per request, and defining costs more.
    const previous = Object.hasOwn(target, 'emit') ? target.emit : undefined;
    target.emit = laneEmitFor(target, previous, laneOfEmitter);
  }
  target[kLane] = context;
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

/**
 * 'app' placement: wraps the app prototype of `emitter`. The common case — the request's own
 * prototype is the wrapped app prototype — is one `hasOwn`; nothing is cached in module state,
 * so a discarded app is never kept alive.
 */
function wrapAppPrototype(emitter: object, context: LaneContext, laneOf: LaneOf): void {
  const prototype = Object.getPrototypeOf(emitter) as object | null;
  if (prototype !== null && Object.hasOwn(prototype, kWrapped)) return;
  const app = appPrototypeOf(emitter);
  if (app === undefined) {
    // Not an Express request: wrap this object itself (cheap on objects nobody re-prototyped).
    keepOnEmitter(emitter, context);
    return;
  }
  // An own `emit` put on this request by earlier middleware (cls-hooked's bindEmitter, say) was
  // copied from the prototype before the wrapper existed: wrap it too, this once.
  if (wrapEmit(app, laneOf) && Object.hasOwn(emitter, 'emit')) wrapEmit(emitter, laneOf);
}

/**
 * Runs every later event of `req` and `res` in `context`. A later call for the same request (a
 * second lane middleware) replaces the context.
 */
export function keepEventsInLane(req: IncomingMessage, res: ServerResponse, context: LaneContext): void {
  if (placement === 'own') {
    keepOnEmitter(req, context);
    keepOnEmitter(res, context);
    return;
  }
  lanes.set(req, context);
  wrapAppPrototype(req, context, laneOfRequest);
  wrapAppPrototype(res, context, laneOfResponse);
}
