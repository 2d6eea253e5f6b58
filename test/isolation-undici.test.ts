// Lane integrity under load for every undici-based client (issue 13 item 1): global fetch (Node's
// bundled undici: 6 on Node 20, 7 on Node 24), undici's fetch/request/stream/pipeline, axios's
// fetch adapter, and undici Pool/Agent/Client, across the global dispatchers a service sets
// (default, `connections` 1 and 2, `pipelining` > 1, a composed interceptor chain) and explicit
// `dispatcher` options. Concurrency 200, mixed lanes; the counts of every cell go to the log.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import {
  enablePropagation,
  laneInterceptor,
  propagationCounters,
  resetPropagationCounters,
} from '@graylane/core';
import axios from 'axios';
import {
  Agent,
  Client,
  type Dispatcher,
  getGlobalDispatcher,
  interceptors,
  Pool,
  pipeline,
  request,
  setGlobalDispatcher,
  stream,
  fetch as undiciFetch,
} from 'undici';
import {
  type CellClient,
  type CellResult,
  describeCell,
  laneEcho,
  runCell,
} from './helpers/isolation-matrix';

const PER_CELL = 700;

/** Clients that go through the global dispatcher (no `dispatcher` option anywhere). */
const GLOBAL_CLIENTS: ReadonlyArray<[string, CellClient]> = [
  ['global fetch', async (url) => (await fetch(url)).text()],
  ['undici fetch', async (url) => (await undiciFetch(url)).text()],
  ['undici request', async (url) => (await request(url)).body.text()],
  [
    'undici stream',
    async (url) => {
      let body = '';
      await stream(
        url,
        { method: 'GET' },
        () =>
          new Writable({
            write(chunk: Buffer, _encoding, callback) {
              body += chunk.toString();
              callback();
            },
          }),
      );
      return body;
    },
  ],
  [
    'undici pipeline',
    (url) =>
      new Promise((resolve, reject) => {
        let body = '';
        const duplex = pipeline(url, { method: 'GET' }, ({ body: response }) => response);
        duplex.setEncoding('utf8');
        duplex.on('data', (chunk: string) => {
          body += chunk;
        });
        duplex.on('end', () => resolve(body));
        duplex.on('error', reject);
        duplex.end();
      }),
  ],
  [
    'axios fetch adapter',
    async (url) => (await axios.get<string>(url, { adapter: 'fetch', responseType: 'text' })).data,
  ],
];

/**
 * A user interceptor that dispatches on a later turn (as a rate limiter or a token fetch would):
 * the inner dispatch then runs outside the caller's synchronous frame.
 */
function deferringInterceptor(dispatch: Dispatcher['dispatch']): Dispatcher['dispatch'] {
  return function deferredDispatch(opts, handler) {
    setImmediate(() => dispatch(opts, handler));
    return true;
  };
}

/** The global dispatchers a service sets, made fresh per cell. */
const GLOBAL_DISPATCHERS: ReadonlyArray<[string, (() => Dispatcher) | null]> = [
  ['default global dispatcher', null],
  ['global Agent connections 1', () => new Agent({ connections: 1 })],
  ['global Agent connections 2', () => new Agent({ connections: 2 })],
  ['global Agent connections 2 pipelining 4', () => new Agent({ connections: 2, pipelining: 4 })],
  [
    'global Agent connections 2 + retry/redirect/deferring chain',
    () =>
      new Agent({ connections: 2 }).compose(
        interceptors.retry({ maxRetries: 1 }),
        interceptors.redirect({ maxRedirections: 2 }),
        deferringInterceptor,
      ),
  ],
];

function assertLanes(result: CellResult): void {
  assert.equal(result.failed, 0, describeCell(result));
  assert.equal(result.wrong, 0, describeCell(result));
  assert.equal(result.lost, 0, describeCell(result));
}

function assertClean(result: CellResult): void {
  assertLanes(result);
  // No false alarm either: the guard took none of these requests for a bypass. (Nor did it warn:
  // the one-time warning is asserted by the last test of this file, which would then see none.)
  assert.equal(propagationCounters().unintercepted, 0, `${result.cell}: unintercepted`);
}

test('isolation matrix: undici clients × global dispatchers, automatic propagation', async (t) => {
  const { url } = await laneEcho(t);
  const original = getGlobalDispatcher();
  let requests = 0;
  for (const [dispatcherName, make] of GLOBAL_DISPATCHERS) {
    for (const [clientName, client] of GLOBAL_CLIENTS) {
      await t.test(`${clientName} × ${dispatcherName}`, async (t) => {
        const dispatcher = make === null ? null : make();
        if (dispatcher !== null) setGlobalDispatcher(dispatcher);
        const propagation = enablePropagation({ http: false, openTelemetry: false });
        resetPropagationCounters();
        try {
          const result = await runCell(`${clientName} × ${dispatcherName}`, client, url, { total: PER_CELL });
          t.diagnostic(describeCell(result));
          requests += result.total;
          assertClean(result);
        } finally {
          propagation.disable();
          setGlobalDispatcher(original);
          if (dispatcher !== null) await dispatcher.close();
        }
      });
    }
  }
  t.diagnostic(`global-dispatcher cells: ${requests} requests`);
});

/** Explicit dispatchers with laneInterceptor() composed last (outermost), made fresh per cell. */
function explicitDispatchers(origin: string): ReadonlyArray<[string, () => Dispatcher]> {
  return [
    ['Pool connections 1', () => new Pool(origin, { connections: 1 }).compose(laneInterceptor())],
    ['Pool connections 2', () => new Pool(origin, { connections: 2 }).compose(laneInterceptor())],
    [
      'Pool connections 2 pipelining 4',
      () => new Pool(origin, { connections: 2, pipelining: 4 }).compose(laneInterceptor()),
    ],
    ['Agent connections 2', () => new Agent({ connections: 2 }).compose(laneInterceptor())],
    ['Client pipelining 4', () => new Client(origin, { pipelining: 4 }).compose(laneInterceptor())],
    [
      'Agent connections 2 + retry/redirect/deferring chain, laneInterceptor last',
      () =>
        new Agent({ connections: 2 }).compose(
          interceptors.retry({ maxRetries: 1 }),
          interceptors.redirect({ maxRedirections: 2 }),
          deferringInterceptor,
          laneInterceptor(),
        ),
    ],
  ];
}

function explicitClients(dispatcher: Dispatcher): ReadonlyArray<[string, CellClient]> {
  return [
    [
      'dispatcher.request',
      async (url) => {
        const u = new URL(url);
        return (await dispatcher.request({ origin: u.origin, path: u.pathname, method: 'GET' })).body.text();
      },
    ],
    ['undici request({ dispatcher })', async (url) => (await request(url, { dispatcher })).body.text()],
    ['undici fetch({ dispatcher })', async (url) => (await undiciFetch(url, { dispatcher })).text()],
    // Node's bundled undici (6 on Node 20) dispatching through npm undici 7's dispatcher.
    [
      'global fetch({ dispatcher })',
      async (url) => (await fetch(url, { dispatcher } as unknown as RequestInit)).text(),
    ],
  ];
}

// With and without the automatic mode on: the interceptor binds the lane at dispatch, in the
// caller's frame, before any queue; the automatic mode must not add to or fight it.
for (const automatic of [false, true]) {
  test(`isolation matrix: explicit dispatchers with laneInterceptor(), automatic mode ${automatic ? 'on' : 'off'}`, async (t) => {
    const { url, origin } = await laneEcho(t);
    let requests = 0;
    for (const [dispatcherName, make] of explicitDispatchers(origin)) {
      const dispatcher = make();
      for (const [clientName, client] of explicitClients(dispatcher)) {
        // A Client serves one origin: requests for it only through `dispatcher.request`.
        await t.test(`${clientName} × ${dispatcherName}`, async (t) => {
          const propagation = automatic ? enablePropagation({ http: false, openTelemetry: false }) : null;
          resetPropagationCounters();
          try {
            const result = await runCell(`${clientName} × ${dispatcherName}`, client, url, {
              total: automatic ? 150 : 200,
            });
            t.diagnostic(describeCell(result));
            requests += result.total;
            assertClean(result);
          } finally {
            propagation?.disable();
          }
        });
      }
      await dispatcher.close();
    }
    t.diagnostic(`explicit-dispatcher cells: ${requests} requests`);
  });
}

// An explicit dispatcher WITHOUT laneInterceptor(): undici may create its requests later, from
// another request's socket callback, so no public API tells the lane of the caller at creation.
// Refused loudly: never tagged by graylane (so never a wrong lane), counted, warned once.
test('isolation matrix: an explicit Pool without laneInterceptor() is refused loudly, never mis-tagged', async (t) => {
  const { url, origin } = await laneEcho(t);
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => {
    if ((warning as { code?: string }).code === 'GL_WARN_UNDICI_UNINTERCEPTED') warnings.push(warning);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  resetPropagationCounters();
  const propagation = enablePropagation({ http: false, openTelemetry: false });
  t.after(() => propagation.disable());
  for (const connections of [1, 2]) {
    const pool = new Pool(origin, { connections });
    const result = await runCell(
      `pool.request × Pool connections ${connections}, no laneInterceptor`,
      async () => (await pool.request({ path: '/', method: 'GET' })).body.text(),
      url,
      { total: 600 },
    );
    t.diagnostic(describeCell(result));
    await pool.close();
    assert.equal(result.failed, 0, describeCell(result));
    assert.equal(result.wrong, 0, describeCell(result));
    // Every call in a lane arrived untagged: that is what "refused" means here.
    assert.equal(result.lost, 360, describeCell(result));
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(warnings.length, 1, 'one warning per process');
  assert.match(warnings[0]!.message, /laneInterceptor\(\)/);
  assert.ok(propagationCounters().unintercepted > 0);
});

// Redirects are followed by a second dispatch: fetch re-dispatches from its own promise chain
// (the caller's context), undici's redirect interceptor from the socket callback of the 302. The
// lane goes with the options laneInterceptor wrote at the first dispatch, because it runs
// outermost: composed last onto the global chain by enablePropagation(), and last in compose().
test('isolation matrix: redirects followed under load keep the caller lane', async (t) => {
  const { url, origin } = await laneEcho(t);
  const redirectUrl = `${url}redirect`;
  const original = getGlobalDispatcher();
  const global = new Agent({ connections: 2 }).compose(interceptors.redirect({ maxRedirections: 2 }));
  setGlobalDispatcher(global);
  const propagation = enablePropagation({ http: false, openTelemetry: false });
  const explicit = new Pool(origin, { connections: 2 }).compose(
    interceptors.redirect({ maxRedirections: 2 }),
    laneInterceptor(),
  );
  t.after(async () => {
    propagation.disable();
    setGlobalDispatcher(original);
    await global.close();
    await explicit.close();
  });
  // `alarms`: the guard may count this cell's follow-ups. A redirect interceptor under
  // graylane's re-dispatches from the socket callback of the 302, outside any interceptor frame;
  // a base-lane request followed on a connection that a lane request opened then looks like a
  // bypass to the guard (counted as unintercepted, see the core README). The lanes on the wire are
  // right all the same, as asserted.
  const cells: ReadonlyArray<[string, CellClient, boolean]> = [
    [
      'global fetch (follows itself) × global Agent connections 2',
      async () => (await fetch(redirectUrl)).text(),
      false,
    ],
    [
      'undici request × global Agent connections 2 + redirect interceptor',
      async () => (await request(redirectUrl)).body.text(),
      true,
    ],
    [
      'dispatcher.request × Pool connections 2 + redirect, laneInterceptor last',
      async () => (await explicit.request({ origin, path: '/redirect', method: 'GET' })).body.text(),
      true,
    ],
  ];
  for (const [name, client, alarms] of cells) {
    resetPropagationCounters();
    const result = await runCell(name, client, url, { total: 400 });
    t.diagnostic(`${describeCell(result)}; unintercepted ${propagationCounters().unintercepted}`);
    if (alarms) assertLanes(result);
    else assertClean(result);
  }
});
