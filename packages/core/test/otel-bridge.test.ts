import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { setImmediate as setImmediateP, setTimeout as sleep } from 'node:timers/promises';
import {
  createLaneContext,
  currentLane,
  currentLaneContext,
  enableOpenTelemetryBridge,
  withLane,
  withLaneContext,
} from '@graylane/core';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { hideModule } from '../../../test/helpers/hidden-module';

const root = new URL('../../..', `file://${__filename}`).pathname;

function runNode(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function activeEntry(key = 'x-mse-tag'): string | undefined {
  return propagation.getBaggage(context.active())?.getEntry(key)?.value;
}

function withBaggage<R>(entries: Record<string, string>, fn: () => R): R {
  const baggage = propagation.createBaggage(
    Object.fromEntries(Object.entries(entries).map(([k, value]) => [k, { value }])),
  );
  return context.with(propagation.setBaggage(ROOT_CONTEXT, baggage), fn);
}

test('without enabling the bridge, nothing of OpenTelemetry is loaded or touched', () => {
  // A fresh process: this test file itself loads @opentelemetry/api.
  const r = runNode(`
    const core = require('@graylane/core');
    const out = [];
    core.withLane('gray', () => out.push(core.currentLane()));
    core.withLaneContext(core.createLaneContext('blue'), () => out.push(core.currentLaneContext().lane));
    out.push(core.laneFromHeaders({ baggage: 'x-mse-tag=gray' }));
    out.push(core.currentLane());
    const loaded = Object.keys(require.cache).filter((p) => p.includes('@opentelemetry'));
    const registry = globalThis[Symbol.for('opentelemetry.js.api.1')];
    console.log(JSON.stringify({ out, loaded, registry: registry === undefined ? null : Object.keys(registry) }));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { out: ['gray', 'blue', 'gray', null], loaded: [], registry: null });
});

test('enabling without @opentelemetry/api installed throws MissingPeerError (GL_ERR_MISSING_PEER)', () => {
  const r = runNode(`
    ${hideModule('@opentelemetry/api')}
    const core = require('@graylane/core');
    try { core.enableOpenTelemetryBridge(); console.log('no error'); }
    catch (err) { console.log(JSON.stringify({ code: err.code, name: err.name, cause: err.cause && err.cause.code, base: err instanceof core.GraylaneError })); }
    // Graylane itself keeps working.
    console.log(core.withLane('gray', () => core.currentLane()));
  `);
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.trim().split('\n');
  assert.deepEqual(JSON.parse(first!), {
    code: 'GL_ERR_MISSING_PEER',
    name: 'MissingPeerError',
    cause: 'MODULE_NOT_FOUND',
    base: true,
  });
  assert.equal(second, 'gray');
});

test('options are validated', () => {
  for (const [options, path] of [
    [{ baggageKey: 'bad key' }, 'baggageKey'],
    [{ baggageKey: '' }, 'baggageKey'],
    [{ baggageKey: 7 }, 'baggageKey'],
    [{ readActiveBaggage: 'yes' }, 'readActiveBaggage'],
    [null, 'options'],
  ] as const) {
    assert.throws(
      () => enableOpenTelemetryBridge(options as never),
      { code: 'GL_ERR_INVALID_OPTION', path },
      JSON.stringify(options),
    );
  }
});

test('enabled but with no context manager registered, lanes work and OTel stays untouched', () => {
  const bridge = enableOpenTelemetryBridge();
  try {
    withLane('gray', () => {
      assert.equal(currentLane(), 'gray');
      assert.equal(activeEntry(), undefined);
      assert.equal(context.active(), ROOT_CONTEXT);
    });
    assert.equal(currentLane(), undefined);
  } finally {
    bridge.disable();
  }
});

test('with a context manager registered', async (t) => {
  const manager = new AsyncLocalStorageContextManager();
  assert.equal(context.setGlobalContextManager(manager), true);
  assert.equal(propagation.setGlobalPropagator(new W3CBaggagePropagator()), true);
  t.after(() => {
    context.disable();
    propagation.disable();
  });

  await t.test('not enabled: entering a lane leaves the OTel baggage alone', () => {
    withLane('gray', () => assert.equal(activeEntry(), undefined));
  });

  await t.test(
    'withLane and withLaneContext put the lane into the active baggage, across awaits',
    async () => {
      const bridge = enableOpenTelemetryBridge();
      try {
        const seen = await withLane('gray', async () => {
          const first = activeEntry();
          await sleep(1);
          await setImmediateP();
          return [first, activeEntry(), currentLane()];
        });
        assert.deepEqual(seen, ['gray', 'gray', 'gray']);
        const context2 = createLaneContext('blue', [['x-user-id', '1']]);
        withLaneContext(context2, () => {
          assert.equal(activeEntry(), 'blue');
          assert.equal(currentLaneContext(), context2);
        });
        assert.equal(activeEntry(), undefined, 'nothing outside');
      } finally {
        bridge.disable();
      }
    },
  );

  await t.test('other baggage entries are kept; the base lane removes the lane entry', () => {
    const bridge = enableOpenTelemetryBridge();
    try {
      withBaggage({ userId: '7', 'x-mse-tag': 'blue' }, () => {
        withLane('gray', () => {
          assert.equal(activeEntry(), 'gray');
          assert.equal(activeEntry('userId'), '7');
          withLane(undefined, () => {
            assert.equal(activeEntry(), undefined);
            assert.equal(activeEntry('userId'), '7');
            assert.equal(currentLane(), undefined, 'a graylane context wins over the baggage');
          });
        });
        // The same lane already in the baggage: the OTel context is reused as is.
        const outer = context.active();
        withLane('blue', () => assert.equal(context.active(), outer));
      });
    } finally {
      bridge.disable();
    }
  });

  await t.test('a custom baggage key', () => {
    const bridge = enableOpenTelemetryBridge({ baggageKey: 'lane' });
    try {
      withLane('gray', () => {
        assert.equal(activeEntry('lane'), 'gray');
        assert.equal(activeEntry(), undefined);
      });
      withBaggage({ lane: 'blue', 'x-mse-tag': 'gray' }, () => assert.equal(currentLane(), 'blue'));
    } finally {
      bridge.disable();
    }
  });

  await t.test('outside graylane, currentLane() reads the active baggage (readActiveBaggage)', async () => {
    const bridge = enableOpenTelemetryBridge();
    try {
      await withBaggage({ 'x-mse-tag': 'gray' }, async () => {
        await sleep(1);
        assert.equal(currentLane(), 'gray');
        assert.equal(currentLaneContext().lane, 'gray');
        assert.equal(currentLaneContext().carry, undefined);
      });
      withBaggage({ 'x-mse-tag': 'not a lane!' }, () => {
        assert.equal(currentLane(), undefined, 'the value must be a valid lane tag');
      });
      withBaggage({ other: 'gray' }, () => assert.equal(currentLane(), undefined));
      assert.equal(currentLane(), undefined);
    } finally {
      bridge.disable();
    }
    withBaggage({ 'x-mse-tag': 'gray' }, () => assert.equal(currentLane(), undefined, 'off after disable'));

    const writeOnly = enableOpenTelemetryBridge({ readActiveBaggage: false });
    try {
      withBaggage({ 'x-mse-tag': 'gray' }, () => assert.equal(currentLane(), undefined));
      withLane('blue', () => assert.equal(activeEntry(), 'blue'));
    } finally {
      writeOnly.disable();
    }
  });

  await t.test('registrations stack; disable is idempotent and the last one turns the bridge off', () => {
    const a = enableOpenTelemetryBridge();
    const b = enableOpenTelemetryBridge();
    a.disable();
    a.disable();
    withLane('gray', () => assert.equal(activeEntry(), 'gray'));
    b.disable();
    withLane('gray', () => assert.equal(activeEntry(), undefined));
    withBaggage({ 'x-mse-tag': 'gray' }, () => assert.equal(currentLane(), undefined));
  });

  await t.test('concurrent lanes keep their own baggage', async () => {
    const bridge = enableOpenTelemetryBridge();
    try {
      const lanes = ['gray', 'blue', undefined, 'canary'];
      const mismatches: string[] = [];
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          withLane(lanes[i % lanes.length], async () => {
            await sleep(i % 3);
            if (activeEntry() !== lanes[i % lanes.length]) mismatches.push(`${i}:${activeEntry()}`);
          }),
        ),
      );
      assert.deepEqual(mismatches, []);
    } finally {
      bridge.disable();
    }
  });
});
