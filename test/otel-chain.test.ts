// edge (graylane) -> mid (OpenTelemetry only) -> last (graylane): the lane crosses a hop that runs
// no graylane code, carried in W3C baggage by OpenTelemetry's own propagation.
import assert from 'node:assert/strict';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, enableOpenTelemetryBridge, laneFromHeaders, withLane } from '@graylane/core';
import { laneMiddleware } from '@graylane/express';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import express from 'express';
import { readBody } from './helpers/http-call';
import { listen } from './helpers/listen';

interface Seen {
  lane: string | null;
  header: string | null;
  baggage: string | null;
}

// What an OpenTelemetry HTTP client instrumentation does: inject the active context into headers.
function otelGet(port: number, path: string, headers: Record<string, string> = {}): Promise<string> {
  propagation.inject(context.active(), headers);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      readBody(res).then(resolve, reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function plainGet(port: number, headers: Record<string, string>): Promise<string> {
  return context.with(ROOT_CONTEXT, () => otelGet(port, '/', headers));
}

function fail(res: ServerResponse, err: unknown): void {
  res.statusCode = 500;
  res.end(String(err));
}

test('the lane crosses a hop instrumented only by OpenTelemetry', async (t) => {
  assert.equal(context.setGlobalContextManager(new AsyncLocalStorageContextManager()), true);
  assert.equal(propagation.setGlobalPropagator(new W3CBaggagePropagator()), true);
  t.after(() => {
    context.disable();
    propagation.disable();
  });

  // last: graylane only (Express + laneMiddleware); reports what it sees.
  const app = express();
  app.use(laneMiddleware());
  app.get('/', async (req, res) => {
    await sleep(1);
    const seen: Seen = {
      lane: currentLane() ?? null,
      header: (req.headers['x-mse-tag'] as string | undefined) ?? null,
      baggage: (req.headers.baggage as string | undefined) ?? null,
    };
    res.json(seen);
  });
  const lastPort = await listen(createServer(app), t);

  // mid: OpenTelemetry only, as its HTTP instrumentation behaves: extract the incoming context,
  // run the handler in it, inject it into the outbound call. No graylane code on this hop.
  const midLanes: Array<string | null> = [];
  const mid = createServer((req: IncomingMessage, res: ServerResponse) => {
    const extracted = propagation.extract(ROOT_CONTEXT, req.headers);
    context
      .with(extracted, async () => {
        await sleep(1);
        midLanes.push(currentLane() ?? null); // graylane's view of this hop (bridge fallback)
        res.end(await otelGet(lastPort, '/'));
      })
      .catch((err) => fail(res, err));
  });
  const midPort = await listen(mid, t);

  // edge: graylane reads the lane and enters it; its outbound client is OpenTelemetry-instrumented
  // (no graylane propagation, so the lane can only travel in baggage).
  const edge = createServer((req: IncomingMessage, res: ServerResponse) => {
    const extracted = propagation.extract(ROOT_CONTEXT, req.headers);
    context
      .with(extracted, () =>
        withLane(laneFromHeaders(req.headers as IncomingHttpHeaders, { baggageKey: false }), async () => {
          await sleep(1);
          res.end(await otelGet(midPort, '/'));
        }),
      )
      .catch((err) => fail(res, err));
  });
  const edgePort = await listen(edge, t);

  const bridge = enableOpenTelemetryBridge();
  let bridgeOn = true;
  t.after(() => {
    if (bridgeOn) bridge.disable();
  });

  await t.test('a tagged request reaches the last hop in its lane, as baggage', async () => {
    const seen = JSON.parse(await plainGet(edgePort, { 'x-mse-tag': 'gray' })) as Seen;
    assert.equal(seen.lane, 'gray');
    assert.equal(seen.header, null, 'no graylane header was written: baggage carried it');
    assert.equal(seen.baggage, 'x-mse-tag=gray');
    assert.equal(midLanes.at(-1), 'gray', 'currentLane() on the OTel-only hop reads the active baggage');
  });

  await t.test(
    'other baggage entries travel along; the lane entry is replaced by the edge lane',
    async () => {
      const seen = JSON.parse(
        await plainGet(edgePort, { 'x-mse-tag': 'feature-x', baggage: 'userId=42,x-mse-tag=old' }),
      ) as Seen;
      assert.equal(seen.lane, 'feature-x');
      assert.match(seen.baggage ?? '', /(^|,)userId=42(,|$)/);
      assert.match(seen.baggage ?? '', /(^|,)x-mse-tag=feature-x(,|$)/);
    },
  );

  await t.test('untagged and invalid requests arrive in the base lane with no lane entry', async () => {
    const cases: Array<Record<string, string>> = [{}, { 'x-mse-tag': '-bad-' }, { 'x-mse-tag': 'a b' }];
    for (const headers of cases) {
      const seen = JSON.parse(await plainGet(edgePort, headers)) as Seen;
      assert.deepEqual(seen, { lane: null, header: null, baggage: null }, JSON.stringify(headers));
      assert.equal(midLanes.at(-1), null);
    }
    // An upstream lane entry is removed when the edge puts the request in the base lane.
    const seen = JSON.parse(await plainGet(edgePort, { baggage: 'userId=1,x-mse-tag=gray' })) as Seen;
    assert.equal(seen.lane, null);
    assert.equal(seen.baggage, 'userId=1');
  });

  await t.test('mixed concurrent requests never cross lanes', async () => {
    const lanes = ['gray', 'blue', undefined, 'canary', 'feature-x'];
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const lane = lanes[i % lanes.length];
        const seen = JSON.parse(
          await plainGet(edgePort, lane === undefined ? {} : { 'x-mse-tag': lane }),
        ) as Seen;
        return seen.lane === (lane ?? null);
      }),
    );
    assert.equal(results.filter((ok) => !ok).length, 0);
  });

  await t.test('after disable() the OTel-only hop no longer carries the lane', async () => {
    bridge.disable();
    bridgeOn = false;
    const seen = JSON.parse(await plainGet(edgePort, { 'x-mse-tag': 'gray' })) as Seen;
    assert.equal(seen.lane, null);
    assert.equal(seen.baggage, null);
    assert.equal(midLanes.at(-1), null);
  });
});
