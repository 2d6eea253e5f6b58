import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { setImmediate as setImmediateP, setTimeout as sleep } from 'node:timers/promises';
import {
  CLS_LANE_KEY,
  createLaneContext,
  currentLane,
  enableOpenTelemetryBridge,
  laneFromHeaders,
  mirrorLaneToClsNamespace,
  withLane,
  withLaneContext,
} from '@graylane/core';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createNamespace, destroyNamespace } from 'cls-hooked';
import { listen } from '../../../test/helpers/listen';

test('the lane is visible through namespace.get inside the lane, across awaits, and not outside', async (t) => {
  const ns = createNamespace('graylane-test-basic');
  t.after(() => destroyNamespace('graylane-test-basic'));
  const mirror = mirrorLaneToClsNamespace(ns);
  t.after(() => mirror.disable());
  assert.equal(CLS_LANE_KEY, 'lane');

  assert.equal(ns.get('lane'), undefined);
  const seen = await withLane('gray', async () => {
    const out: unknown[] = [ns.get('lane')];
    await sleep(1);
    out.push(ns.get('lane'));
    await setImmediateP();
    out.push(ns.get('lane'));
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        out.push(ns.get('lane'));
        resolve();
      }, 1),
    );
    const emitter = new EventEmitter();
    emitter.on('e', () => out.push(ns.get('lane')));
    process.nextTick(() => emitter.emit('e'));
    await sleep(1);
    return out;
  });
  assert.deepEqual(seen, Array(5).fill('gray'));
  assert.equal(ns.get('lane'), undefined, 'nothing outside the lane');
});

test('nested lanes, the base lane and concurrent requests each see their own value', async (t) => {
  const ns = createNamespace('graylane-test-nested');
  t.after(() => destroyNamespace('graylane-test-nested'));
  const mirror = mirrorLaneToClsNamespace(ns, { key: 'trafficLane' });
  t.after(() => mirror.disable());

  await withLane('gray', async () => {
    await withLane('blue', async () => {
      await sleep(1);
      assert.equal(ns.get('trafficLane'), 'blue');
      await withLane(undefined, async () => {
        await sleep(1);
        assert.equal(ns.get('trafficLane'), undefined);
      });
    });
    await sleep(1);
    assert.equal(ns.get('trafficLane'), 'gray');
  });

  const lanes = ['gray', 'blue', undefined, 'canary'];
  const mismatches: string[] = [];
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      withLane(lanes[i % 4], async () => {
        await sleep(i % 3);
        if (ns.get('trafficLane') !== lanes[i % 4]) mismatches.push(`${i}`);
        await setImmediateP();
        if (ns.get('trafficLane') !== currentLane()) mismatches.push(`${i}!`);
      }),
    ),
  );
  assert.deepEqual(mismatches, []);
});

test('values the app keeps in its own cls context (a transaction) stay visible inside the lane', async (t) => {
  const ns = createNamespace('graylane-test-tx');
  t.after(() => destroyNamespace('graylane-test-tx'));
  const mirror = mirrorLaneToClsNamespace(ns);
  t.after(() => mirror.disable());

  await ns.runPromise(async () => {
    ns.set('transaction', 'tx-1');
    await withLane('gray', async () => {
      await sleep(1);
      assert.equal(ns.get('transaction'), 'tx-1');
      assert.equal(ns.get('lane'), 'gray');
      ns.set('transaction', 'tx-2'); // set inside the lane: scoped to the lane's child context
    });
    assert.equal(ns.get('lane'), undefined);
    assert.equal(ns.get('transaction'), 'tx-1');
  });
});

test('inside an http handler run by withLaneContext, as the Express middleware does', async (t) => {
  const ns = createNamespace('graylane-test-http');
  t.after(() => destroyNamespace('graylane-test-http'));
  const mirror = mirrorLaneToClsNamespace(ns);
  t.after(() => mirror.disable());

  const server = createServer((req, res) => {
    withLaneContext(createLaneContext(laneFromHeaders(req.headers)), async () => {
      await sleep(1);
      res.end(String(ns.get('lane')));
    });
  });
  const port = await listen(server, t);
  const get = async (headers: Record<string, string>) =>
    (await fetch(`http://127.0.0.1:${port}/`, { headers })).text();
  assert.equal(await get({ 'x-mse-tag': 'gray' }), 'gray');
  assert.equal(await get({}), 'undefined');
  assert.equal(await get({ baggage: 'x-mse-tag=blue' }), 'blue');
});

test('disable() stops mirroring; options are validated', async (t) => {
  const ns = createNamespace('graylane-test-off');
  t.after(() => destroyNamespace('graylane-test-off'));
  const mirror = mirrorLaneToClsNamespace(ns);
  withLane('gray', () => assert.equal(ns.get('lane'), 'gray'));
  mirror.disable();
  mirror.disable();
  withLane('gray', () => assert.equal(ns.get('lane'), undefined));

  for (const [args, path] of [
    [[null], 'namespace'],
    [[{}], 'namespace'],
    [[ns, { key: '' }], 'key'],
    [[ns, { key: 3 }], 'key'],
    [[ns, null], 'options'],
  ] as const) {
    assert.throws(
      () => (mirrorLaneToClsNamespace as (...a: unknown[]) => unknown)(...args),
      { code: 'GL_ERR_INVALID_OPTION', path },
      path,
    );
  }
});

test('the cls mirror and the OpenTelemetry bridge compose', async (t) => {
  const ns = createNamespace('graylane-test-otel');
  t.after(() => destroyNamespace('graylane-test-otel'));
  assert.equal(context.setGlobalContextManager(new AsyncLocalStorageContextManager()), true);
  t.after(() => context.disable());
  const mirror = mirrorLaneToClsNamespace(ns);
  const bridge = enableOpenTelemetryBridge();
  t.after(() => {
    bridge.disable();
    mirror.disable();
  });
  const seen = await withLane('gray', async () => {
    await sleep(1);
    return [
      currentLane(),
      ns.get('lane'),
      propagation.getBaggage(context.active())?.getEntry('x-mse-tag')?.value,
    ];
  });
  assert.deepEqual(seen, ['gray', 'gray', 'gray']);
  mirror.disable();
  withLane('blue', () => {
    assert.equal(ns.get('lane'), undefined);
    assert.equal(propagation.getBaggage(context.active())?.getEntry('x-mse-tag')?.value, 'blue');
  });
});
