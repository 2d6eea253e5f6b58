// HTTP -> gRPC -> HTTP: an Express hop (laneMiddleware) calls a gRPC server through a client with
// laneClientInterceptor; the gRPC handler (laneServerInterceptor) calls a final Express hop with
// fetch, propagated by enablePropagation(). The lane must arrive at the final hop for each of
// the four gRPC call kinds, and nothing must arrive for untagged requests.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { currentLane, enablePropagation, LANE_HEADER } from '@graylane/core';
import { laneMiddleware } from '@graylane/express';
import { laneClientInterceptor, laneServerInterceptor } from '@graylane/grpc';
import express from 'express';
import {
  bidi,
  clientStream,
  type EchoReply,
  echoClient,
  serverStream,
  startEchoServer,
  unary,
} from '../packages/grpc/test/helpers/echo';
import { sendRaw } from './helpers/chain';
import { listen } from './helpers/listen';

interface FinalHop {
  header: string | null;
  lane: string | null;
}

const KINDS = ['unary', 'server-stream', 'client-stream', 'bidi'] as const;

async function startChain(t: import('node:test').TestContext) {
  const propagation = enablePropagation({ openTelemetry: false });
  t.after(() => propagation.disable());

  // Final hop: reports the lane header it received and the lane its handler ran in.
  const final = express();
  final.use(laneMiddleware());
  final.get('/', (req, res) => {
    const header = req.headers[LANE_HEADER];
    res.json({
      header: typeof header === 'string' ? header : null,
      lane: currentLane() ?? null,
    } satisfies FinalHop);
  });
  const finalUrl = `http://127.0.0.1:${await listen(createServer(final), t)}/`;

  // gRPC hop: every handler calls the final hop after an await (client-streaming from its 'end'
  // event, bidi from each 'data' event) and returns what it saw.
  const grpcHop = await startEchoServer(
    {
      name: 'grpc-b',
      interceptors: [
        laneServerInterceptor({ sources: ['x-mse-tag', { key: 'version', values: { '200': 'gray' } }] }),
      ],
      downstream: async () => {
        const seen = (await (await fetch(finalUrl)).json()) as FinalHop;
        assert.equal(seen.lane, seen.header, 'the final hop runs in the lane it received');
        return seen.header ?? '';
      },
    },
    t,
  );
  const client = echoClient(grpcHop.address, { interceptors: [laneClientInterceptor()] }, t);

  // Edge hop: Express, calls the gRPC hop with no lane code of its own.
  const edge = express();
  edge.use(laneMiddleware());
  edge.get('/:kind', async (req, res, next) => {
    try {
      let replies: EchoReply[];
      if (req.params.kind === 'unary') replies = [await unary(client)];
      else if (req.params.kind === 'server-stream') replies = await serverStream(client, { count: 2 });
      else if (req.params.kind === 'client-stream') replies = [await clientStream(client, 2)];
      else replies = (await bidi(client, 2)).slice(0, 2); // the last bidi reply is the end marker
      res.json(replies);
    } catch (error) {
      next(error);
    }
  });
  const edgeUrl = `http://127.0.0.1:${await listen(createServer(edge), t)}/`;
  return {
    client,
    send: async (kind: string, headers: Record<string, string> = {}) =>
      JSON.parse(await sendRaw(`${edgeUrl}${kind}`, headers)) as EchoReply[],
  };
}

test('HTTP -> gRPC -> HTTP carries the lane for each call kind; untagged calls carry none', async (t) => {
  const chain = await startChain(t);
  for (const kind of KINDS) {
    const tagged = await chain.send(kind, { 'x-mse-tag': 'gray' });
    assert.ok(tagged.length >= 1, kind);
    for (const reply of tagged) {
      assert.equal(reply.lane, 'gray', `${kind}: lane in the gRPC handler`);
      assert.equal(reply.downstream_lane, 'gray', `${kind}: lane header at the final HTTP hop`);
    }
    const untagged = await chain.send(kind);
    for (const reply of untagged) {
      assert.equal(reply.lane, '', `${kind}: untagged call has no lane in the gRPC handler`);
      assert.equal(reply.downstream_lane, '', `${kind}: untagged call sends no lane header onward`);
    }
  }
});

test('interleaved tagged and untagged chains do not mix lanes', async (t) => {
  const chain = await startChain(t);
  const lanes = ['gray', '', 'feature-x', '', 'gray'];
  const results = await Promise.all(
    lanes.flatMap((lane) => KINDS.map((kind) => chain.send(kind, lane === '' ? {} : { 'x-mse-tag': lane }))),
  );
  results.forEach((replies, i) => {
    const lane = lanes[Math.floor(i / KINDS.length)]!;
    for (const reply of replies) assert.deepEqual([reply.lane, reply.downstream_lane], [lane, lane]);
  });
});

test('a gRPC call with version: 200 enters lane gray and carries it to the final hop', async (t) => {
  const chain = await startChain(t);
  const reply = await unary(chain.client, {}, { version: '200' });
  assert.deepEqual([reply.lane, reply.downstream_lane], ['gray', 'gray']);
  const replies = await bidi(chain.client, 1, { version: '200' });
  assert.deepEqual([replies[0]!.lane, replies[0]!.downstream_lane], ['gray', 'gray']);
  const other = await unary(chain.client, {}, { version: '100' });
  assert.deepEqual([other.lane, other.downstream_lane], ['', '']);
});
