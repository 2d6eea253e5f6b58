import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { type TestContext, test } from 'node:test';
import {
  currentLaneContext,
  InvalidOptionError,
  type InvalidTagMessage,
  ingressCounters,
  withLane,
} from '@graylane/core';
import { laneServerInterceptor, METADATA_GETTER } from '@graylane/grpc';
import { Metadata, ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import {
  bidi,
  clientStream,
  echoClient,
  serverStream,
  startEchoPair,
  startEchoServer,
  unary,
} from './helpers/echo';

/** A server with the lane interceptor, and a plain client on it. */
async function server(t: TestContext, options?: Parameters<typeof laneServerInterceptor>[0]) {
  return (await startEchoPair(t, { server: [laneServerInterceptor(options)] })).client;
}

test('unary: the handler runs in the lane of x-mse-tag, after awaits too', async (t) => {
  const client = await server(t);
  const reply = await unary(client, {}, { 'x-mse-tag': 'gray' });
  assert.equal(reply.message, 'start:gray');
  assert.equal(reply.lane, 'gray');
});

test('server streaming: every write after an await sees the lane', async (t) => {
  const client = await server(t);
  const replies = await serverStream(client, { count: 3 }, { 'x-mse-tag': 'gray' });
  assert.equal(replies.length, 3);
  for (const reply of replies) assert.deepEqual([reply.message, reply.lane], ['start:gray', 'gray']);
});

test('client streaming: handler, data and end events see the lane', async (t) => {
  const client = await server(t);
  const reply = await clientStream(client, 3, { 'x-mse-tag': 'gray' });
  assert.equal(reply.message, 'start:gray,data:gray,data:gray,data:gray,end:gray');
  assert.equal(reply.lane, 'gray');
});

test('bidi: handler, each data event and end see the lane', async (t) => {
  const client = await server(t);
  const replies = await bidi(client, 3, { 'x-mse-tag': 'feature-x' });
  assert.equal(replies.length, 4);
  for (const reply of replies.slice(0, 3)) {
    assert.equal(reply.message, 'start:feature-x,data:feature-x');
    assert.equal(reply.lane, 'feature-x');
  }
  assert.deepEqual([replies[3]!.message, replies[3]!.lane], ['end:feature-x', 'feature-x']);
});

test('bidi: the cancelled event of a cancelled call runs in its lane', async (t) => {
  let cancelledIn: string | undefined;
  let onCancelled!: () => void;
  const cancelled = new Promise<void>((resolve) => {
    onCancelled = resolve;
  });
  const { address } = await startEchoServer(
    {
      name: 'b',
      interceptors: [laneServerInterceptor()],
      onCancelled: (lane) => {
        cancelledIn = lane;
        onCancelled();
      },
    },
    t,
  );
  const client = echoClient(address, {}, t);
  const metadata = new Metadata();
  metadata.set('x-mse-tag', 'gray');
  const stream = client.Bidi(metadata);
  stream.on('error', () => {}); // CANCELLED, expected
  stream.write({ message: 'one' });
  await once(stream, 'data');
  stream.cancel();
  await cancelled;
  assert.equal(cancelledIn, 'gray');
});

test('untagged calls run in the base lane even when the server was started inside a lane', async (t) => {
  const { address } = await withLane('blue', () =>
    startEchoServer({ name: 'b', interceptors: [laneServerInterceptor()] }, t),
  );
  const client = echoClient(address, {}, t);
  // The connection is accepted while 'blue' is not active anywhere; the server's own context must not leak.
  assert.equal((await unary(client)).lane, '');
  assert.equal((await clientStream(client, 2)).message, 'start:,data:,data:,end:');
  const replies = await bidi(client, 2);
  assert.deepEqual(
    replies.map((r) => r.lane),
    ['', '', ''],
  );
  assert.equal((await unary(client, {}, { 'x-mse-tag': 'gray' })).lane, 'gray');
});

test('a value -> lane source: version 200 enters gray, an unmapped version is ignored and counted', async (t) => {
  const client = await server(t, { sources: ['x-mse-tag', { key: 'version', values: { '200': 'gray' } }] });
  assert.equal((await unary(client, {}, { version: '200' })).lane, 'gray');
  const before = ingressCounters().invalidTags.unmapped;
  assert.equal((await unary(client, {}, { version: '100' })).lane, '');
  assert.equal(ingressCounters().invalidTags.unmapped, before + 1);
  assert.equal((await bidi(client, 1, { version: '200' }))[0]!.lane, 'gray');
});

test('an invalid tag is ignored, counted and published; the call goes on in the base lane', async (t) => {
  const client = await server(t);
  const seen: InvalidTagMessage[] = [];
  const onMessage = (message: unknown) => seen.push(message as InvalidTagMessage);
  diagnosticsChannel.subscribe('graylane:ingress:invalid-tag', onMessage);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:ingress:invalid-tag', onMessage));
  const before = ingressCounters().invalidTags.grammar;
  const reply = await unary(client, {}, { 'x-mse-tag': '-not-a-lane-' });
  assert.equal(reply.lane, '');
  assert.equal(ingressCounters().invalidTags.grammar, before + 1);
  assert.deepEqual(seen, [
    { carrier: 'metadata', key: 'x-mse-tag', reason: 'grammar', value: '-not-a-lane-' },
  ]);
});

test('the baggage entry is read when no lane key is present', async (t) => {
  const client = await server(t);
  assert.equal((await unary(client, {}, { baggage: 'userId=7,x-mse-tag=gray' })).lane, 'gray');
  assert.equal((await unary(client, {}, { 'x-mse-tag': 'blue', baggage: 'x-mse-tag=gray' })).lane, 'blue');
});

test('counts calls per lane and publishes graylane:ingress:lane', async (t) => {
  const client = await server(t);
  const lanes: unknown[] = [];
  const onMessage = (message: unknown) => lanes.push(message);
  diagnosticsChannel.subscribe('graylane:ingress:lane', onMessage);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:ingress:lane', onMessage));
  const before = ingressCounters().requests['counted-lane'] ?? 0;
  await unary(client, {}, { 'x-mse-tag': 'counted-lane' });
  await unary(client);
  assert.equal(ingressCounters().requests['counted-lane'], before + 1);
  assert.deepEqual(lanes, [
    { lane: 'counted-lane', carrier: 'metadata' },
    { lane: undefined, carrier: 'metadata' },
  ]);
});

test('carried metadata keys join the lane context', async (t) => {
  let carry: unknown;
  const { address } = await startEchoServer(
    {
      name: 'b',
      interceptors: [laneServerInterceptor({ carry: ['x-user-id'] })],
      onCall: () => {
        carry = currentLaneContext().carry;
      },
    },
    t,
  );
  const client = echoClient(address, {}, t);
  await unary(client, {}, { 'x-mse-tag': 'gray', 'x-user-id': '42' });
  assert.deepEqual(carry, [['x-user-id', '42']]);
});

test('misconfiguration fails at setup: binary keys and malformed sources', () => {
  assert.throws(() => laneServerInterceptor({ sources: ['lane-bin'] }), InvalidOptionError);
  assert.throws(() => laneServerInterceptor({ header: 'x-lane-bin' }), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => laneServerInterceptor({ carry: ['trace-bin'] }), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => laneServerInterceptor({ sources: [{ key: 'version', values: { '200': '-x' } }] }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
});

test('the metadata getter ignores binary keys and Buffer values', () => {
  const metadata = new Metadata();
  metadata.set('lane-bin', Buffer.from('gray'));
  metadata.set('x-mse-tag', 'gray');
  metadata.add('baggage', 'a=1');
  metadata.add('baggage', 'x-mse-tag=gray');
  assert.equal(METADATA_GETTER.get(metadata, 'lane-bin'), undefined);
  assert.equal(METADATA_GETTER.get(metadata, 'x-mse-tag'), 'gray');
  assert.deepEqual(METADATA_GETTER.get(metadata, 'baggage'), ['a=1', 'x-mse-tag=gray']);
  assert.equal(METADATA_GETTER.get(metadata, 'absent'), undefined);
});

test('composes with other server interceptors, before and after it, including async ones', async (t) => {
  // A typical auth-style interceptor: checks metadata after an await, adds a trailer.
  const other: ServerInterceptor = (_method, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            setTimeout(() => nextMetadata(metadata), 1);
          },
        });
      },
      sendStatus(status, next) {
        const metadata = status.metadata ?? new Metadata();
        metadata.set('x-other', 'yes');
        next({ ...status, metadata });
      },
    });
  for (const interceptors of [
    [laneServerInterceptor(), other],
    [other, laneServerInterceptor()],
  ]) {
    const { client } = await startEchoPair(t, { server: interceptors });
    const trailers: Metadata[] = [];
    const reply = await new Promise<{ lane: string }>((resolve, reject) => {
      const metadata = new Metadata();
      metadata.set('x-mse-tag', 'gray');
      const call = client.Unary({}, metadata, (error, value) => (error ? reject(error) : resolve(value!)));
      call.on('status', (status: { metadata: Metadata }) => trailers.push(status.metadata));
    });
    assert.equal(reply.lane, 'gray');
    assert.deepEqual(trailers[0]!.get('x-other'), ['yes']);
    const replies = await bidi(client, 2, { 'x-mse-tag': 'gray' });
    assert.deepEqual(
      replies.map((r) => r.lane),
      ['gray', 'gray', 'gray'],
    );
    assert.equal(
      (await clientStream(client, 2, { 'x-mse-tag': 'gray' })).message,
      'start:gray,data:gray,data:gray,end:gray',
    );
  }
});
