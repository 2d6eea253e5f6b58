// The behaviour every Registry implementation owes its consumers (static, etcd, Kubernetes, yours).
// Not a test file itself: a `*.test.ts` calls `registryContract(name, makeHarness)` to run the suite
// against one registry. See README "Writing a registry".
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import type { Instance, Registry, RegistryUpdate, ServiceInstanceInit } from '@graylane/discovery';

/** What the contract needs from a registry under test. */
export interface ContractHarness {
  readonly registry: Registry;
  /**
   * Makes `instance` visible to subscribers of `instance.service` through the registry's backing
   * store (a file, an etcd key written by another client, a Pod in a fake API server). Resolves
   * to a function that removes it again. May be called after `registry.close()`; it must not
   * throw then (the contract checks that nothing is delivered).
   */
  add(instance: ServiceInstanceInit): Promise<() => Promise<void>>;
  /** `registry.register()` works (static, etcd) or rejects with `GL_ERR_REGISTRATION_UNSUPPORTED`. */
  readonly supportsRegister: boolean;
  /** Frees whatever else the harness started (servers, processes, temp dirs). Runs after close. */
  dispose?(): Promise<void>;
}

export interface ContractOptions {
  /** How long to wait for an expected update. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** How long "nothing arrives" is watched for. Default 300 ms. */
  readonly quietMs?: number;
  /** Label that carries the lane in `register()` checks. Default `alicloud.service.tag`. */
  readonly laneLabel?: string;
}

/** Records a subscriber's updates and waits for one that satisfies a predicate. */
export class UpdateRecorder {
  readonly updates: RegistryUpdate[] = [];
  #waiters: Array<{ match: (u: RegistryUpdate) => boolean; resolve: (u: RegistryUpdate) => void }> = [];

  readonly listener = (update: RegistryUpdate): void => {
    this.updates.push(update);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(update)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(update);
      }
    }
  };

  /** The latest update, or the next one, that satisfies `match`. */
  waitFor(
    match: (update: RegistryUpdate) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<RegistryUpdate> {
    const last = this.updates.at(-1);
    if (last !== undefined && match(last)) return Promise.resolve(last);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (u: RegistryUpdate) => {
          clearTimeout(timer);
          resolve(u);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${describe(this.updates)}`),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}

/** `host:port` of every instance in an ok update, sorted; `undefined` for a failed update. */
export function endpoints(update: RegistryUpdate): string[] | undefined {
  if (!update.ok) return undefined;
  return update.instances.map((i) => `${i.host}:${i.port}`).sort();
}

function describe(updates: readonly RegistryUpdate[]): string {
  return JSON.stringify(updates.map((u) => (u.ok ? endpoints(u) : `error: ${u.error.message}`)));
}

function has(expected: readonly string[]) {
  const want = [...expected].sort().join(',');
  return (update: RegistryUpdate) => update.ok && endpoints(update)!.join(',') === want;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let serial = 0;

/**
 * Runs the registry contract against registries made by `makeHarness` (a fresh one per test):
 * subscribe delivers asynchronously and only complete sets; updates follow changes; unsubscribe
 * and close stop deliveries; delivered instances are frozen and defaulted; register/close round
 * trips (or is refused with a typed error).
 */
export function registryContract(
  name: string,
  makeHarness: () => Promise<ContractHarness>,
  options: ContractOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 5000;
  const quietMs = options.quietMs ?? 300;
  const laneLabel = options.laneLabel ?? 'alicloud.service.tag';

  async function setup(t: { after(fn: () => Promise<void>): void }) {
    const harness = await makeHarness();
    t.after(async () => {
      await harness.registry.close();
      await harness.dispose?.();
    });
    serial++;
    return { harness, service: `contract-svc-${process.pid}-${serial}` };
  }

  test(`${name}: subscribe delivers the current set asynchronously, frozen and defaulted`, async (t) => {
    const { harness, service } = await setup(t);
    await harness.add({ service, host: '127.0.0.1', port: 7001, labels: { [laneLabel]: 'gray' } });
    const recorder = new UpdateRecorder();
    let returned = false;
    let calledBeforeReturn = false;
    const unsubscribe = harness.registry.subscribe(service, (update) => {
      if (!returned) calledBeforeReturn = true;
      recorder.listener(update);
    });
    returned = true;
    t.after(unsubscribe);
    assert.equal(calledBeforeReturn, false, 'listener called from inside subscribe()');
    const update = await recorder.waitFor(has(['127.0.0.1:7001']), timeoutMs, 'the first set');
    assert.ok(update.ok);
    const instance = update.instances[0] as Instance;
    assert.equal(Object.isFrozen(instance), true, 'instances are frozen');
    assert.equal(instance.weight, 100);
    assert.equal(instance.healthy, true);
    assert.equal(typeof instance.id, 'string');
    assert.ok(instance.id.length > 0);
    assert.equal(instance.labels[laneLabel], 'gray');
  });

  test(`${name}: a service with no instances yet gets its first instance when it appears`, async (t) => {
    const { harness, service } = await setup(t);
    const recorder = new UpdateRecorder();
    t.after(harness.registry.subscribe(service, recorder.listener));
    await recorder.waitFor(() => true, timeoutMs, 'a first delivery');
    const first = recorder.updates[0]!;
    if (first.ok) assert.deepEqual(first.instances, [], 'an unknown service has no instances');
    await harness.add({ service, host: '127.0.0.2', port: 7002 });
    await recorder.waitFor(has(['127.0.0.2:7002']), timeoutMs, 'the added instance');
  });

  test(`${name}: updates follow additions and removals; every subscriber gets them`, async (t) => {
    const { harness, service } = await setup(t);
    const removeA = await harness.add({ service, host: '127.0.0.3', port: 7003 });
    const one = new UpdateRecorder();
    const two = new UpdateRecorder();
    t.after(harness.registry.subscribe(service, one.listener));
    t.after(harness.registry.subscribe(service, two.listener));
    await one.waitFor(has(['127.0.0.3:7003']), timeoutMs, 'A');
    await two.waitFor(has(['127.0.0.3:7003']), timeoutMs, 'A (second subscriber)');
    await harness.add({ service, host: '127.0.0.4', port: 7004 });
    await one.waitFor(has(['127.0.0.3:7003', '127.0.0.4:7004']), timeoutMs, 'A and B');
    await removeA();
    await one.waitFor(has(['127.0.0.4:7004']), timeoutMs, 'B alone after A was removed');
    await two.waitFor(has(['127.0.0.4:7004']), timeoutMs, 'B alone (second subscriber)');
    for (const update of one.updates) {
      if (update.ok) assert.equal(Object.isFrozen(update.instances), true, 'instance arrays are frozen');
    }
  });

  test(`${name}: other services' changes are not delivered as this service's set`, async (t) => {
    const { harness, service } = await setup(t);
    await harness.add({ service, host: '127.0.0.5', port: 7005 });
    const recorder = new UpdateRecorder();
    t.after(harness.registry.subscribe(service, recorder.listener));
    await recorder.waitFor(has(['127.0.0.5:7005']), timeoutMs, 'own set');
    const seen = recorder.updates.length;
    await harness.add({ service: `${service}-other`, host: '127.0.0.6', port: 7006 });
    await sleep(quietMs);
    for (const update of recorder.updates.slice(seen)) {
      if (update.ok) assert.deepEqual(endpoints(update), ['127.0.0.5:7005']);
    }
  });

  test(`${name}: a throwing listener is reported on graylane:registry:error; the process and the others go on`, async (t) => {
    const { harness, service } = await setup(t);
    const reported: Array<{ registry: string; service?: string; error: unknown; listener?: boolean }> = [];
    const onError = (message: unknown) => reported.push(message as (typeof reported)[number]);
    diagnosticsChannel.subscribe('graylane:registry:error', onError);
    t.after(() => diagnosticsChannel.unsubscribe('graylane:registry:error', onError));
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    // Before one error policy, the static registry rethrew in a microtask: an uncaught exception.
    process.prependListener('uncaughtException', onUncaught);
    t.after(() => process.removeListener('uncaughtException', onUncaught));
    await harness.add({ service, host: '127.0.0.9', port: 7009 });
    const boom = new Error('listener bug');
    let calls = 0;
    t.after(
      harness.registry.subscribe(service, () => {
        calls++;
        throw boom;
      }),
    );
    const after = new UpdateRecorder();
    t.after(harness.registry.subscribe(service, after.listener));
    await after.waitFor(has(['127.0.0.9:7009']), timeoutMs, 'first set, to the listener after the thrower');
    await harness.add({ service, host: '127.0.0.10', port: 7010 });
    await after.waitFor(has(['127.0.0.9:7009', '127.0.0.10:7010']), timeoutMs, 'second set');
    await sleep(50);
    assert.ok(calls >= 2, 'the throwing listener still gets updates');
    assert.deepEqual(uncaught, [], 'nothing reached uncaughtException');
    const mine = reported.filter((m) => m.error === boom);
    assert.equal(mine.length, calls, 'each throw reported once');
    assert.equal(mine[0]!.service, service);
    assert.equal(mine[0]!.registry, harness.registry.name);
    assert.equal(mine[0]!.listener, true);
  });

  test(`${name}: unsubscribe stops deliveries and is idempotent`, async (t) => {
    const { harness, service } = await setup(t);
    await harness.add({ service, host: '127.0.0.7', port: 7007 });
    const recorder = new UpdateRecorder();
    const unsubscribe = harness.registry.subscribe(service, recorder.listener);
    await recorder.waitFor(has(['127.0.0.7:7007']), timeoutMs, 'first set');
    unsubscribe();
    unsubscribe();
    const seen = recorder.updates.length;
    await harness.add({ service, host: '127.0.0.8', port: 7008 });
    await sleep(quietMs);
    assert.equal(recorder.updates.length, seen, 'no delivery after unsubscribe');
  });

  test(`${name}: unsubscribing before the first delivery prevents it`, async (t) => {
    const { harness, service } = await setup(t);
    await harness.add({ service, host: '127.0.0.9', port: 7009 });
    const recorder = new UpdateRecorder();
    harness.registry.subscribe(service, recorder.listener)();
    await sleep(quietMs);
    assert.equal(recorder.updates.length, 0);
  });

  test(`${name}: close stops deliveries and is idempotent`, async (t) => {
    const { harness, service } = await setup(t);
    await harness.add({ service, host: '127.0.0.10', port: 7010 });
    const recorder = new UpdateRecorder();
    harness.registry.subscribe(service, recorder.listener);
    await recorder.waitFor(has(['127.0.0.10:7010']), timeoutMs, 'first set');
    await harness.registry.close();
    await harness.registry.close();
    const seen = recorder.updates.length;
    await harness.add({ service, host: '127.0.0.11', port: 7011 }).catch(() => undefined);
    await sleep(quietMs);
    assert.equal(recorder.updates.length, seen, 'no delivery after close');
  });

  test(`${name}: register() round-trips or is refused with a typed error`, async (t) => {
    const { harness, service } = await setup(t);
    if (!harness.supportsRegister) {
      await assert.rejects(harness.registry.register({ service, host: '127.0.0.12', port: 7012 }), {
        code: 'GL_ERR_REGISTRATION_UNSUPPORTED',
      });
      return;
    }
    const recorder = new UpdateRecorder();
    t.after(harness.registry.subscribe(service, recorder.listener));
    const registration = await harness.registry.register({
      service,
      host: '127.0.0.12',
      port: 7012,
      labels: { [laneLabel]: 'gray' },
      weight: 30,
    });
    assert.equal(registration.service, service);
    assert.equal(Object.isFrozen(registration.instance), true);
    assert.equal(registration.instance.weight, 30);
    const update = await recorder.waitFor(has(['127.0.0.12:7012']), timeoutMs, 'the registered instance');
    assert.ok(update.ok);
    assert.equal(update.instances[0]!.labels[laneLabel], 'gray');
    assert.equal(update.instances[0]!.weight, 30);
    assert.equal(update.instances[0]!.id, registration.instance.id);
    await registration.close();
    await registration.close();
    await recorder.waitFor(has([]), timeoutMs, 'the set without the closed registration');
  });

  test(`${name}: register() after close() rejects with GL_ERR_DISCOVERY_CLOSED`, async (t) => {
    const { harness, service } = await setup(t);
    if (!harness.supportsRegister) return;
    await harness.registry.close();
    await assert.rejects(harness.registry.register({ service, host: '127.0.0.13', port: 7013 }), {
      code: 'GL_ERR_DISCOVERY_CLOSED',
    });
  });
}
