import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  compileIngress,
  createLaneContext,
  extractCarry,
  InvalidOptionError,
  RECORD_GETTER,
  withLane,
  withLaneContext,
} from '@graylane/core';
import { laneClientInterceptor, laneServerInterceptor } from '@graylane/grpc';
import { InterceptingCall, type Interceptor, ListenerBuilder } from '@grpc/grpc-js';
import { bidi, clientStream, echoClient, serverStream, startEchoPair, unary } from './helpers/echo';

/** A server that records the metadata of every call, and a client with the lane interceptor. */
function setup(t: TestContext, options?: Parameters<typeof laneClientInterceptor>[0]) {
  return startEchoPair(t, { server: [laneServerInterceptor()], client: [laneClientInterceptor(options)] });
}

test('writes the current lane into the metadata of all four call kinds', async (t) => {
  const { client, seen } = await setup(t);
  await withLane('gray', async () => {
    assert.equal((await unary(client)).lane, 'gray');
    assert.equal((await serverStream(client, { count: 1 }))[0]!.lane, 'gray');
    assert.equal((await clientStream(client, 1)).lane, 'gray');
    assert.equal((await bidi(client, 1))[0]!.lane, 'gray');
  });
  assert.deepEqual(
    seen.map((metadata) => metadata.get('x-mse-tag')),
    [['gray'], ['gray'], ['gray'], ['gray']],
  );
});

test('adds nothing in the base lane', async (t) => {
  const { client, seen } = await setup(t);
  assert.equal((await unary(client)).lane, '');
  assert.equal((await bidi(client, 1))[0]!.lane, '');
  assert.deepEqual(
    seen.map((metadata) => metadata.get('x-mse-tag')),
    [[], []],
  );
});

test('the lane is the one of the context the call was created in', async (t) => {
  const { client } = await setup(t);
  const replies = await Promise.all([
    withLane('gray', () => unary(client, { delay_ms: 20 })),
    unary(client, { delay_ms: 10 }),
    withLane('feature-x', () => unary(client)),
  ]);
  assert.deepEqual(
    replies.map((reply) => reply.lane),
    ['gray', '', 'feature-x'],
  );
});

test('a lane the caller set in the metadata is kept', async (t) => {
  const { client, seen } = await setup(t);
  const reply = await withLane('gray', () => unary(client, {}, { 'x-mse-tag': 'blue' }));
  assert.equal(reply.lane, 'blue');
  assert.deepEqual(seen[0]!.get('x-mse-tag'), ['blue']);
});

test('carried headers are written unless set; carry: false writes the lane only', async (t) => {
  const { client, seen } = await setup(t);
  const compiled = compileIngress({ carry: ['x-user-id', 'x-request-id'] });
  const carry = extractCarry({ 'x-user-id': '42', 'x-request-id': 'r-1' }, RECORD_GETTER, compiled);
  const context = createLaneContext('gray', carry);
  await withLaneContext(context, () => unary(client, {}, { 'x-request-id': 'mine' }));
  assert.deepEqual(seen[0]!.get('x-user-id'), ['42']);
  assert.deepEqual(seen[0]!.get('x-request-id'), ['mine']);

  const laneOnly = await setup(t, { carry: false });
  await withLaneContext(context, () => unary(laneOnly.client));
  assert.deepEqual(laneOnly.seen[0]!.get('x-mse-tag'), ['gray']);
  assert.deepEqual(laneOnly.seen[0]!.get('x-user-id'), []);
});

test('carried headers only: a base-lane context with carry writes the carried keys', async (t) => {
  const { client, seen } = await setup(t);
  await withLaneContext(createLaneContext(undefined, [['x-user-id', '7']]), () => unary(client));
  assert.deepEqual(seen[0]!.get('x-user-id'), ['7']);
  assert.deepEqual(seen[0]!.get('x-mse-tag'), []);
});

test('a carried value that is not legal metadata is skipped, not thrown', async (t) => {
  const { client, seen } = await setup(t);
  const context = createLaneContext('gray', [['x-name', 'caf\u00e9']]);
  assert.equal((await withLaneContext(context, () => unary(client))).lane, 'gray');
  assert.deepEqual(seen[0]!.get('x-name'), []);
});

test('metadataKey names the key written', async (t) => {
  const { client, seen } = await setup(t, { metadataKey: 'x-lane' });
  await withLane('gray', () => unary(client));
  assert.deepEqual(seen[0]!.get('x-lane'), ['gray']);
  assert.deepEqual(seen[0]!.get('x-mse-tag'), []);
});

test('misconfiguration fails at setup', () => {
  assert.throws(() => laneClientInterceptor({ metadataKey: 'Bad Key' }), InvalidOptionError);
  assert.throws(() => laneClientInterceptor({ metadataKey: 'lane-bin' }), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => laneClientInterceptor({ carry: 'yes' as unknown as boolean }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
});

test('composes with other client interceptors, before and after it', async (t) => {
  const { address, seen } = await startEchoPair(t, { server: [laneServerInterceptor()] });
  const responses: string[] = [];
  // A typical user interceptor: adds a key on start and reads the response metadata.
  const other: Interceptor = (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('x-other', 'yes');
        next(
          metadata,
          new ListenerBuilder()
            .withOnReceiveMetadata((md, nextMd) => {
              responses.push('metadata');
              nextMd(md);
            })
            .withOnReceiveStatus((status, nextStatus) => {
              responses.push(`status:${status.code}`);
              nextStatus(status);
            })
            .build(),
        );
        void listener;
      },
    });
  for (const interceptors of [
    [laneClientInterceptor(), other],
    [other, laneClientInterceptor()],
  ]) {
    seen.length = 0;
    responses.length = 0;
    const client = echoClient(address, { interceptors }, t);
    assert.equal((await withLane('gray', () => unary(client))).lane, 'gray');
    assert.equal((await withLane('gray', () => bidi(client, 1)))[0]!.lane, 'gray');
    assert.deepEqual(
      seen.map((metadata) => [metadata.get('x-mse-tag'), metadata.get('x-other')]),
      [
        [['gray'], ['yes']],
        [['gray'], ['yes']],
      ],
    );
    assert.deepEqual(responses, ['metadata', 'status:0', 'metadata', 'status:0']);
  }
});
