import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { setImmediate as setImmediateP, setTimeout as sleep } from 'node:timers/promises';
import {
  BASE_CONTEXT,
  createLaneContext,
  currentLane,
  currentLaneContext,
  GraylaneError,
  InvalidLaneError,
  withLane,
  withLaneContext,
} from '@graylane/core';

test('currentLane() outside any lane is undefined and currentLaneContext() is the base context', () => {
  assert.equal(currentLane(), undefined);
  assert.equal(currentLaneContext(), BASE_CONTEXT);
  assert.deepEqual({ ...BASE_CONTEXT }, { lane: undefined, carry: undefined });
});

test('withLane returns the callback result and restores the outer lane afterwards', () => {
  assert.equal(
    withLane('gray', () => currentLane()),
    'gray',
  );
  assert.equal(currentLane(), undefined);
  assert.throws(() =>
    withLane('gray', () => {
      throw new Error('boom');
    }),
  );
  assert.equal(currentLane(), undefined);
});

test('the lane survives await, timers, setImmediate, nextTick and queueMicrotask', async () => {
  const seen = await withLane('gray', async () => {
    const out: Array<string | undefined> = [];
    await null;
    out.push(currentLane());
    await sleep(1);
    out.push(currentLane());
    await setImmediateP();
    out.push(currentLane());
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        out.push(currentLane());
        resolve();
      }, 1),
    );
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        out.push(currentLane());
        resolve();
      }),
    );
    await new Promise<void>((resolve) =>
      process.nextTick(() => {
        out.push(currentLane());
        resolve();
      }),
    );
    await new Promise<void>((resolve) =>
      queueMicrotask(() => {
        out.push(currentLane());
        resolve();
      }),
    );
    const interval = await new Promise<string | undefined>((resolve) => {
      const timer = setInterval(() => {
        clearInterval(timer);
        resolve(currentLane());
      }, 1);
    });
    out.push(interval);
    return out;
  });
  assert.deepEqual(seen, Array(8).fill('gray'));
});

test('promise chains started inside the lane keep it (then, Promise.all, async generators)', async () => {
  const seen = await withLane('gray', () => {
    const chained = Promise.resolve()
      .then(() => sleep(1))
      .then(() => currentLane());
    const all = Promise.all(
      [1, 2, 3].map(async (n) => {
        await sleep(n);
        return currentLane();
      }),
    );
    async function* gen() {
      await sleep(1);
      yield currentLane();
      await setImmediateP();
      yield currentLane();
    }
    const generated = (async () => {
      const out: Array<string | undefined> = [];
      for await (const lane of gen()) out.push(lane);
      return out;
    })();
    return Promise.all([chained, all, generated]);
  });
  assert.deepEqual(seen, ['gray', ['gray', 'gray', 'gray'], ['gray', 'gray']]);
});

test('EventEmitter listeners registered inside the lane run in it', async (t) => {
  t.plan(3);
  const emitter = new EventEmitter();
  await withLane('gray', async () => {
    emitter.on('data', () => t.assert.equal(currentLane(), 'gray'));
    await sleep(1);
    emitter.emit('data');
  });
  // Listeners run synchronously in the context of whoever emits (AsyncLocalStorage follows the
  // call, not the registration): a listener added in a lane but fired from the base lane sees none.
  const shared = new EventEmitter();
  withLane('gray', () => shared.on('x', () => t.assert.equal(currentLane(), undefined)));
  shared.emit('x');
  // Events fired by I/O started inside the lane (a timer-driven emit here) see the lane.
  const later = new EventEmitter();
  await withLane('blue', async () => {
    later.once('tick', () => t.assert.equal(currentLane(), 'blue'));
    setTimeout(() => later.emit('tick'), 1);
    await once(later, 'tick');
  });
});

test('streams and pipeline started inside the lane run their callbacks in it', async () => {
  const seen: string[] = [];
  await withLane('gray', async () => {
    const source = Readable.from(
      (async function* () {
        for (let i = 0; i < 3; i++) {
          await sleep(1);
          seen.push(`read:${currentLane()}`);
          yield Buffer.from(String(i));
        }
      })(),
    );
    const upper = new Transform({
      transform(chunk, _enc, cb) {
        seen.push(`transform:${currentLane()}`);
        setImmediate(() => cb(null, chunk));
      },
    });
    const sink = new Writable({
      write(_chunk, _enc, cb) {
        seen.push(`write:${currentLane()}`);
        setTimeout(cb, 1);
      },
    });
    await pipeline(source, upper, sink);
    seen.push(`after:${currentLane()}`);
  });
  assert.equal(seen.length, 10);
  for (const entry of seen) assert.match(entry, /:gray$/, entry);
});

test('a PassThrough data listener attached inside the lane sees the lane when fed later', async () => {
  const pass = new PassThrough();
  const lanes = await withLane('gray', async () => {
    const out: Array<string | undefined> = [];
    pass.on('data', () => out.push(currentLane()));
    const ended = once(pass, 'end');
    setTimeout(() => {
      pass.write('a');
      pass.end('b');
    }, 1);
    await ended;
    return out;
  });
  assert.ok(lanes.length >= 1);
  assert.deepEqual(lanes, Array(lanes.length).fill('gray'));
});

test('nested lanes: the inner lane wins inside, the outer lane comes back after', async () => {
  await withLane('gray', async () => {
    assert.equal(currentLane(), 'gray');
    await withLane('feature-x', async () => {
      await sleep(1);
      assert.equal(currentLane(), 'feature-x');
      await withLane(undefined, async () => {
        await sleep(1);
        assert.equal(currentLane(), undefined);
      });
      assert.equal(currentLane(), 'feature-x');
    });
    assert.equal(currentLane(), 'gray');
  });
  assert.equal(currentLane(), undefined);
});

test('withLane into the lane already current runs fn in it, and a different lane inside still comes back', async () => {
  await withLane('gray', async () => {
    const outer = currentLaneContext();
    await withLane('gray', async () => {
      assert.equal(currentLaneContext(), outer);
      await sleep(1);
      assert.equal(currentLane(), 'gray');
      await withLane('blue', async () => {
        await sleep(1);
        assert.equal(currentLane(), 'blue');
      });
      assert.equal(currentLane(), 'gray');
    });
    assert.equal(currentLaneContext(), outer);
    withLane(null, () => {
      withLane(null, () => assert.equal(currentLane(), undefined));
      assert.equal(currentLaneContext(), BASE_CONTEXT);
    });
    assert.equal(currentLane(), 'gray');
  });
  // Outside any context the base lane is still entered (it must win over the instance lane).
  assert.equal(
    withLane(null, () => currentLaneContext()),
    BASE_CONTEXT,
  );
  assert.equal(currentLane(), undefined);
});

test('concurrent lanes never leak into sibling requests', async () => {
  const lanes = ['gray', 'blue', undefined, 'feature-x', 'canary'];
  const requests = 200;
  const mismatches: string[] = [];
  await Promise.all(
    Array.from({ length: requests }, (_, i) => {
      const lane = lanes[i % lanes.length];
      return withLane(lane, async () => {
        for (let step = 0; step < 4; step++) {
          // Interleave every kind of hop so siblings resume in arbitrary order.
          if (step % 2 === 0) await sleep((i * 7 + step) % 3);
          else await setImmediateP();
          if (currentLane() !== lane) mismatches.push(`${i}:${step}:${currentLane()}`);
        }
      });
    }),
  );
  assert.deepEqual(mismatches, []);
  assert.equal(currentLane(), undefined);
});

test('a timer scheduled inside a lane does not leak the lane into code scheduled outside', async () => {
  let inner: string | undefined = 'unset';
  let outer: string | undefined = 'unset';
  withLane('gray', () => {
    setTimeout(() => {
      inner = currentLane();
    }, 1);
  });
  setTimeout(() => {
    outer = currentLane();
  }, 1);
  await sleep(10);
  assert.equal(inner, 'gray');
  assert.equal(outer, undefined);
});

test('withLane with an invalid lane throws InvalidLaneError (GL_ERR_INVALID_LANE) and never runs fn', () => {
  for (const bad of ['', '-gray', 'gray-', 'a b', 'x'.repeat(64), 'grày', 'a,b']) {
    let ran = false;
    assert.throws(
      () =>
        withLane(bad, () => {
          ran = true;
        }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidLaneError);
        assert.ok(err instanceof GraylaneError);
        assert.equal(err.code, 'GL_ERR_INVALID_LANE');
        assert.equal(err.name, 'InvalidLaneError');
        return true;
      },
      JSON.stringify(bad),
    );
    assert.equal(ran, false);
  }
  // Non-strings from untyped callers are refused the same way.
  assert.throws(() => withLane(42 as unknown as string, () => 0), { code: 'GL_ERR_INVALID_LANE' });
});

test('withLane keeps the carried headers of the enclosing context', () => {
  const context = createLaneContext('gray', [['x-user-id', '42']]);
  withLaneContext(context, () => {
    assert.equal(currentLaneContext(), context);
    withLane('blue', () => {
      const inner = currentLaneContext();
      assert.equal(inner.lane, 'blue');
      assert.deepEqual(inner.carry, [['x-user-id', '42']]);
      assert.ok(Object.isFrozen(inner));
    });
  });
});

test('createLaneContext validates, freezes and shares carry-less contexts', () => {
  assert.equal(createLaneContext(undefined), BASE_CONTEXT);
  assert.equal(createLaneContext(undefined, []), BASE_CONTEXT);
  const gray = createLaneContext('gray');
  assert.equal(createLaneContext('gray'), gray, 'carry-less contexts are shared per lane');
  assert.ok(Object.isFrozen(gray));
  assert.deepEqual({ ...gray }, { lane: 'gray', carry: undefined });
  const carried = createLaneContext(undefined, [['x-request-id', 'r1']]);
  assert.equal(carried.lane, undefined);
  assert.deepEqual(carried.carry, [['x-request-id', 'r1']]);
  assert.throws(() => createLaneContext('not a lane'), { code: 'GL_ERR_INVALID_LANE' });
  // Inside withLane the shared context is the one reported.
  withLane('gray', () => assert.equal(currentLaneContext(), gray));
});

test('withLaneContext runs fn in the given context and returns its result', async () => {
  const context = createLaneContext('gray', [['x-user-id', '7']]);
  const result = await withLaneContext(context, async () => {
    await sleep(1);
    return [currentLane(), currentLaneContext()] as const;
  });
  assert.equal(result[0], 'gray');
  assert.equal(result[1], context);
});
