// Outbound propagation hot paths: laneInterceptor (with and without the automatic undici mode
// installed), the automatic mode's `undici:request:create` guard and the node:http hook's
// subscriber, each in the base lane and in a lane, against a bare dispatch measured in the same
// run, plus bytes allocated per op. Not a test: run it by hand or through
// `npm run bench -- --suites core/propagation`.
//
//   node --import tsx packages/core/bench/propagation.bench.ts
//
// The clients are stand-ins (a dispatch that returns at once, request objects with the fields the
// hooks read), so what is measured is graylane's own work per request, not undici's or node:http's.
// The hooks are installed through the internal install functions: `channel` mode of the http hook
// then works on Node 20 too, where nothing but this bench publishes on that channel.
//
// Bytes per op: bytesPerOp of scripts/bench-kit.ts (V8's used heap after a minor GC and after a
// window of WINDOW ops; the median window is the figure). A control that allocates one small
// object per op shows the method sees allocations.

import diagnosticsChannel from 'node:diagnostics_channel';
import { bytesPerOp as measureBytes, nsByName, printResults } from '../../../scripts/bench-kit';
import { BASE_CONTEXT, createLaneContext, type LaneContext } from '../src/context';
import { installHttpHook, uninstallHttpHook } from '../src/http-hook';
import { laneStorage } from '../src/internal/global';
import { DEFAULT_OUTBOUND } from '../src/internal/outbound-headers';
import { laneInterceptor } from '../src/lane-interceptor';
import { installUndiciHook, uninstallUndiciHook } from '../src/undici-hook';

const QUICK = process.env.BENCH_QUICK === '1';
const WINDOW = 10_000;
const WINDOWS = QUICK ? 10 : 40;
const WINDOWS_OF = { window: WINDOW, windows: WINDOWS };
// mitata is loaded with import(): required from this CommonJS file through tsx's ESM interop, its
// generated measuring loop runs ~10x slower.

const storage = laneStorage();
const GRAY: LaneContext = createLaneContext('gray');

// ---- stand-ins --------------------------------------------------------------------------------

interface DispatchOptions {
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers?: unknown;
}

const HANDLER = {};
// What undici's dispatch would receive: the bench keeps the options the interceptor passes on, in a
// ring (a single variable would let the optimizer drop the store, and with it the allocation).
const dispatched: DispatchOptions[] = new Array(1024).fill(undefined);
let dispatchCount = 0;
function bareDispatch(opts: DispatchOptions, _handler: unknown): boolean {
  dispatchCount = (dispatchCount + 1) & 1023;
  dispatched[dispatchCount] = opts;
  return true;
}
const intercepted = laneInterceptor()(bareDispatch as never) as unknown as typeof bareDispatch;
const RECORD_OPTIONS: DispatchOptions = {
  origin: 'http://svc-b:8080',
  path: '/api/items',
  method: 'GET',
  headers: { accept: 'application/json', 'x-request-id': 'r-1' },
};

// An undici Request as the guard sees it: a flat header list.
class FakeUndiciRequest {
  headers: string[];
  constructor(headers: string[]) {
    this.headers = headers;
  }
}
const undiciCreate = diagnosticsChannel.channel('undici:request:create');
const untaggedMessage = { request: new FakeUndiciRequest(['accept', 'application/json']) };
const taggedMessage = { request: new FakeUndiciRequest(['accept', 'application/json', 'x-mse-tag', 'gray']) };

// A node:http ClientRequest as the hook sees it.
class FakeClientRequest {
  headersSent = false;
  protocol = 'http:';
  #names: string[] = [];
  #values: string[] = [];
  getHeader(name: string): string | undefined {
    const i = this.#names.indexOf(name);
    return i === -1 ? undefined : this.#values[i];
  }
  setHeader(name: string, value: string): void {
    this.#names.push(name);
    this.#values.push(value);
  }
  /** Removes what the hook set, without letting the arrays shrink (and grow again). */
  reset(): void {
    while (this.#names.length > 0) {
      this.#names.pop();
      this.#values.pop();
    }
  }
}
const httpCreated = diagnosticsChannel.channel('http.client.request.created');
const httpRequest = new FakeClientRequest();
const httpMessage = { request: httpRequest };

// ---- cases ------------------------------------------------------------------------------------

interface Case {
  readonly name: string;
  /** The lane context the op runs in. */
  readonly context: LaneContext;
  /** Whether the automatic undici hook is installed while it runs. */
  readonly undiciHook: boolean;
  readonly httpHook: boolean;
  readonly op: () => unknown;
  /** Checked after one op, before measuring: the op does what its name says. */
  readonly check: () => boolean;
}

function lastDispatched(): DispatchOptions {
  return dispatched[dispatchCount]!;
}
function lastHeaders(): unknown {
  return lastDispatched().headers;
}
function hasGray(headers: unknown): boolean {
  if (Array.isArray(headers)) return headers.includes('gray');
  return (headers as Record<string, unknown>)['x-mse-tag'] === 'gray';
}

const BASELINE = 'baseline: bare dispatch (no interceptor)';
const cases: Case[] = [
  {
    name: BASELINE,
    context: BASE_CONTEXT,
    undiciHook: false,
    httpHook: false,
    op: () => bareDispatch(RECORD_OPTIONS, HANDLER),
    check: () => lastDispatched() === RECORD_OPTIONS,
  },
  {
    name: 'laneInterceptor, base lane',
    context: BASE_CONTEXT,
    undiciHook: false,
    httpHook: false,
    op: () => intercepted(RECORD_OPTIONS, HANDLER),
    check: () => lastDispatched() === RECORD_OPTIONS,
  },
  {
    name: 'laneInterceptor, base lane, automatic mode installed',
    context: BASE_CONTEXT,
    undiciHook: true,
    httpHook: false,
    op: () => intercepted(RECORD_OPTIONS, HANDLER),
    check: () => lastDispatched() === RECORD_OPTIONS,
  },
  {
    name: 'laneInterceptor, lane gray',
    context: GRAY,
    undiciHook: false,
    httpHook: false,
    op: () => intercepted(RECORD_OPTIONS, HANDLER),
    check: () => hasGray(lastHeaders()),
  },
  {
    name: 'laneInterceptor, lane gray, automatic mode installed',
    context: GRAY,
    undiciHook: true,
    httpHook: false,
    op: () => intercepted(RECORD_OPTIONS, HANDLER),
    check: () => hasGray(lastHeaders()),
  },
  {
    name: 'undici create guard, base lane',
    context: BASE_CONTEXT,
    undiciHook: true,
    httpHook: false,
    op: () => undiciCreate.publish(untaggedMessage),
    check: () => untaggedMessage.request.headers.length === 2,
  },
  {
    name: 'undici create guard, lane gray, request tagged',
    context: GRAY,
    undiciHook: true,
    httpHook: false,
    op: () => undiciCreate.publish(taggedMessage),
    check: () => taggedMessage.request.headers.length === 4,
  },
  {
    name: 'http hook, base lane',
    context: BASE_CONTEXT,
    undiciHook: false,
    httpHook: true,
    op: () => {
      httpRequest.reset();
      httpCreated.publish(httpMessage);
    },
    check: () => httpRequest.getHeader('x-mse-tag') === undefined,
  },
  {
    name: 'http hook, lane gray',
    context: GRAY,
    undiciHook: false,
    httpHook: true,
    op: () => {
      httpRequest.reset();
      httpCreated.publish(httpMessage);
    },
    check: () => httpRequest.getHeader('x-mse-tag') === 'gray',
  },
];

/** Puts the process in the state a case runs in. */
function enter(c: Case): void {
  if (c.undiciHook) installUndiciHook(DEFAULT_OUTBOUND);
  if (c.httpHook) installHttpHook(DEFAULT_OUTBOUND, 'channel');
  // The measuring loop continues this execution, so it runs in the case's context.
  storage.enterWith(c.context);
  c.op();
  if (!c.check()) throw new Error(`bench setup: ${c.name}`);
}

function leave(c: Case): void {
  storage.enterWith(BASE_CONTEXT);
  if (c.undiciHook) uninstallUndiciHook();
  if (c.httpHook) uninstallHttpHook();
}

function bytesPerOp(op: () => unknown): number {
  return measureBytes(op, WINDOWS_OF);
}

async function main(): Promise<void> {
  const { bench, do_not_optimize, group, run, summary } = await import('mitata');
  group('outbound propagation', () => {
    summary(() => {
      for (const c of cases) {
        const b = bench(c.name, function* () {
          enter(c);
          yield () => do_not_optimize(c.op());
          leave(c);
        });
        if (c.name === BASELINE) b.baseline(true);
      }
    });
  });
  const { benchmarks } = await run({ format: QUICK ? 'quiet' : 'mitata', throw: true });
  const nsOf = nsByName(benchmarks);
  const rows: Record<string, { nsPerOp: number; nsAvg: number; bytesPerOp: number }> = {};
  for (const c of cases) {
    enter(c);
    const bytes = bytesPerOp(c.op);
    leave(c);
    const ns = nsOf.get(c.name)!;
    rows[c.name] = { nsPerOp: ns.p50, nsAvg: ns.avg, bytesPerOp: bytes };
  }
  let j = 0;
  const controlBytes = bytesPerOp(function allocatingOp() {
    j++;
    return { id: j };
  });

  const baseLane = cases.filter(
    (c) => c.context === BASE_CONTEXT && c.name !== BASELINE && !/gray/.test(c.name),
  );
  const targets = baseLane.map((c) => {
    const value = rows[c.name]!.bytesPerOp;
    return {
      name: `propagation: bytes allocated per op, ${c.name} <= 0.5`,
      op: '<=',
      limit: 0.5,
      value,
      met: value <= 0.5,
    };
  });

  printResults({
    suite: 'propagation',
    quick: QUICK,
    ...WINDOWS_OF,
    bytesKey: 'bytesPerOp',
    bytesUnit: 'op',
    rows,
    controlBytes,
    targets,
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
