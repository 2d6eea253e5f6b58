import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer, IncomingMessage, request, ServerResponse } from 'node:http';
import { connect, createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BASE_CONTEXT,
  bindEmitterToLane,
  compileIngress,
  createLaneContext,
  currentLane,
  ingressCounters,
  laneRequestListener,
  prebindServerRequests,
  requestLaneContext,
  resetIngressCounters,
  runInRequestLane,
  withLane,
} from '@graylane/core';
import { listen } from '../../../test/helpers/listen';

const lane = (): string => currentLane() ?? '(base)';

/** A POST whose body arrives in two writes a few ms apart, so 'end' comes from the socket. */
function post(port: number, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.write('x'.repeat(1000));
    setTimeout(() => req.end('y'.repeat(1000)), 5);
  });
}

test('laneRequestListener: listener, body events and response events run in the lane', async (t) => {
  const finished: string[] = [];
  const server = createServer(
    laneRequestListener((req, res) => {
      res.on('finish', () => finished.push(lane()));
      let length = 0;
      req.on('data', (chunk: Buffer) => {
        length += chunk.length;
      });
      req.on('end', () => res.end(`${lane()} ${length}`));
    }),
  );
  const port = await listen(server, t);
  resetIngressCounters();
  assert.equal(await post(port, { 'x-mse-tag': 'gray' }), 'gray 2000');
  assert.equal(await post(port, {}), '(base) 2000');
  assert.equal(await post(port, { baggage: 'x-mse-tag=blue' }), 'blue 2000');
  assert.equal(await post(port, { 'x-mse-tag': 'not a lane!' }), '(base) 2000');
  for (let i = 0; i < 100 && finished.length < 4; i++) await sleep(5);
  assert.deepEqual(finished, ['gray', '(base)', 'blue', '(base)']);
  const counters = ingressCounters();
  assert.equal(counters.requests.gray, 1);
  assert.equal(counters.requests['(base)'], 2);
  assert.equal(counters.invalidTags.grammar, 1);
});

test('prebindServerRequests: req/res of a request with a lane key are bound when Node creates them (binding them after a re-prototype adds no property); others are not touched', async (t) => {
  const compiled = compileIngress();
  prebindServerRequests(compiled);
  prebindServerRequests(compiled); // idempotent: one subscription, one binding
  const finished: string[] = [];
  const server = createServer((req, res) => {
    const atCreation = Object.hasOwn(req, 'emit') && Object.hasOwn(res, 'emit');
    // What Express does before any middleware runs.
    Object.setPrototypeOf(req, Object.create(Object.getPrototypeOf(req) as object));
    Object.setPrototypeOf(res, Object.create(Object.getPrototypeOf(res) as object));
    const keys = Reflect.ownKeys(req).length + Reflect.ownKeys(res).length;
    runInRequestLane(requestLaneContext(req.headers, compiled), req, res, () => {
      const added = Reflect.ownKeys(req).length + Reflect.ownKeys(res).length - keys;
      res.on('finish', () => finished.push(lane()));
      req.resume();
      // 'end' comes from the socket, outside the lane, after the body's second write.
      req.on('end', () => res.end(`${lane()} created-bound=${atCreation} added=${added}`));
    });
  });
  const port = await listen(server, t);
  assert.equal(await post(port, { 'x-mse-tag': 'gray' }), 'gray created-bound=true added=0');
  // No lane key: never bound (it runs in the base lane, nothing to bind).
  assert.equal(await post(port, {}), '(base) created-bound=false added=0');
  assert.equal(await post(port, { 'x-mse-tag': 'blue' }), 'blue created-bound=true added=0');
  // A baggage header may hold the lane: bound at creation, whatever it turns out to hold.
  assert.equal(await post(port, { baggage: 'x-mse-tag=canary' }), 'canary created-bound=true added=0');
  assert.equal(await post(port, { baggage: 'user=1' }), '(base) created-bound=true added=0');
  // An invalid tag: bound at creation, the request runs in the base lane.
  assert.equal(await post(port, { 'x-mse-tag': 'not a lane!' }), '(base) created-bound=true added=0');
  for (let i = 0; i < 100 && finished.length < 6; i++) await sleep(5);
  assert.deepEqual(finished, ['gray', '(base)', 'blue', 'canary', '(base)', '(base)']);
});

test('laneRequestListener: the base lane stays base on a server started inside a lane', async (t) => {
  const server = withLane('gray', () =>
    createServer(
      laneRequestListener((req, res) => {
        req.resume();
        req.on('end', () => res.end(lane()));
      }),
    ),
  );
  const port = await withLane('gray', () => listen(server, t));
  assert.equal(await post(port, {}), '(base)');
  assert.equal(await post(port, { 'x-mse-tag': 'blue' }), 'blue');
});

test('laneRequestListener on node:http2 (compatibility API): handler and request events in the lane', async (t) => {
  const server: Http2Server = createHttp2Server(
    laneRequestListener((req, res) => {
      req.resume();
      req.on('end', () => res.end(lane()));
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.after(() => {
    client.close();
    server.close();
  });
  for (const tag of ['gray', undefined]) {
    const stream = client.request({ ':method': 'POST', ':path': '/', ...(tag ? { 'x-mse-tag': tag } : {}) });
    stream.write('x'.repeat(500));
    setTimeout(() => stream.end('y'), 5);
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    await once(stream, 'end');
    assert.equal(body, tag ?? '(base)');
  }
});

test('bindEmitterToLane: listeners added before and after run in the lane; binding again replaces it', () => {
  const emitter = new EventEmitter();
  const seen: string[] = [];
  emitter.on('e', () => seen.push(`early ${lane()}`));
  bindEmitterToLane(emitter, createLaneContext('gray'));
  emitter.on('e', () => seen.push(`late ${lane()}`));
  emitter.emit('e');
  bindEmitterToLane(emitter, createLaneContext('blue'));
  emitter.emit('e');
  assert.deepEqual(seen, ['early gray', 'late gray', 'early blue', 'late blue']);
  // One own emit, the same function after rebinding: nothing stacks.
  assert.ok(Object.hasOwn(emitter, 'emit'));
  // An object inheriting from the bound emitter does not recurse.
  const derived = Object.create(emitter) as EventEmitter;
  derived.on('d', () => seen.push(`derived ${lane()}`));
  assert.equal(derived.emit('d'), true);
  assert.equal(seen.at(-1), 'derived blue');
  // The return value and arguments are the emitter's own.
  emitter.on('args', (a: number, b: number, c: number, d: number) => seen.push(`${a + b + c + d}`));
  assert.equal(emitter.emit('args', 1, 2, 3, 4), true);
  assert.equal(seen.at(-1), '10');
  assert.equal(emitter.emit('nobody'), false);
});

test('bindEmitterToLane on an object inheriting from a bound emitter: its own lane, no recursion', () => {
  const parent = new EventEmitter();
  bindEmitterToLane(parent, createLaneContext('gray'));
  const derived = Object.create(parent) as EventEmitter;
  bindEmitterToLane(derived, createLaneContext('blue'));
  const seen: string[] = [];
  derived.on('d', (n: number) => seen.push(`derived ${lane()} ${n}`));
  parent.on('p', () => seen.push(`parent ${lane()}`));
  // Emitted outside any lane, so each binding must enter its own lane.
  assert.equal(derived.emit('d', 1), true);
  assert.equal(parent.emit('p'), true);
  assert.equal(
    withLane('blue', () => derived.emit('d', 2)),
    true,
  );
  assert.deepEqual(seen, ['derived blue 1', 'parent gray', 'derived blue 2']);
});

test('bindEmitterToLane keeps an emit wrapper put on the object before it, and never touches a prototype', () => {
  const shared = [EventEmitter.prototype, IncomingMessage.prototype, ServerResponse.prototype];
  const before = shared.map((p) => [Object.hasOwn(p, 'emit'), p.emit] as const);
  const emitter = new EventEmitter();
  let wrapped = 0;
  const original = emitter.emit;
  emitter.emit = function countingEmit(this: EventEmitter, ...args: Parameters<typeof original>) {
    wrapped++;
    return original.apply(this, args);
  } as typeof original;
  bindEmitterToLane(emitter, createLaneContext('gray'));
  let seen = '';
  emitter.on('e', () => {
    seen = lane();
  });
  emitter.emit('e');
  assert.equal(seen, 'gray');
  assert.ok(wrapped >= 1);
  assert.deepEqual(
    shared.map((p) => [Object.hasOwn(p, 'emit'), p.emit] as const),
    before,
  );
});

test('runInRequestLane: base lane with nothing active binds nothing; a lane binds both emitters', () => {
  const req = new EventEmitter();
  const res = new EventEmitter();
  assert.equal(
    runInRequestLane(BASE_CONTEXT, req, res, () => 'ran'),
    'ran',
  );
  assert.ok(!Object.hasOwn(req, 'emit') && !Object.hasOwn(res, 'emit'));
  assert.equal(
    runInRequestLane(createLaneContext('gray'), req, res, () => lane()),
    'gray',
  );
  let seen = '';
  res.on('finish', () => {
    seen = lane();
  });
  res.emit('finish');
  assert.equal(seen, 'gray');
  // Inside a lane, a base request is bound too: its events must not run in the outer lane.
  const req2 = new EventEmitter();
  const res2 = new EventEmitter();
  withLane('blue', () => runInRequestLane(BASE_CONTEXT, req2, res2, () => undefined));
  req2.on('end', () => {
    seen = lane();
  });
  withLane('blue', () => req2.emit('end'));
  assert.equal(seen, '(base)');
});

test('requestLaneContext reads lane and carried headers; laneRequestListener checks its arguments', (t: TestContext) => {
  const compiled = compileIngress({ carry: ['x-user-id'] });
  const context = requestLaneContext({ 'x-mse-tag': 'gray', 'x-user-id': '42' }, compiled);
  assert.deepEqual(context, { lane: 'gray', carry: [['x-user-id', '42']] });
  assert.equal(requestLaneContext({}, compileIngress()), BASE_CONTEXT);
  assert.throws(() => laneRequestListener('nope' as never), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => laneRequestListener(() => undefined, { header: 'bad header' }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
  assert.equal(laneRequestListener(() => undefined).name, 'laneRequestListener');
  t.diagnostic('ok');
});
