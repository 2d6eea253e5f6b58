import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';
import { type PlanStore, parsePlanState, type StoredPlan } from '../plan-store';
import { DEFAULT_ETCD_REQUEST_TIMEOUT_MS, type EtcdConnectionOptions, etcdClient } from './etcd-client';
import { KeyWatch } from './key-watch';

/** Key prefix of plan states: `<prefix>/<plan name>`. */
export const DEFAULT_PLAN_PREFIX = '/graylane/plans';

/** Options of {@link etcdPlanStore}. */
export interface EtcdPlanStoreOptions extends EtcdConnectionOptions {
  /** Default {@link DEFAULT_PLAN_PREFIX} (`/graylane/plans`); a trailing `/` is dropped. */
  readonly prefix?: string | undefined;
}

const ETCD_PLAN_STORE_OPTION_KEYS: readonly string[] = Object.keys({
  endpoints: 1,
  client: 1,
  clientOptions: 1,
  requestTimeoutMs: 1,
  prefix: 1,
} satisfies Record<keyof EtcdPlanStoreOptions, 1>);

/**
 * A {@link PlanStore} on etcd: each plan's state is one JSON value at `<prefix>/<name>`, written
 * with a transaction on its mod revision (compare-and-set), read with a get and followed with a
 * watch from the read's revision. Replicas pointed at the same etcd and prefix walk one plan.
 * Needs etcd read/write on the prefix.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options.
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` when `etcd3` is not installed.
 * @example
 * const store = etcdPlanStore({ endpoints: 'http://10.0.0.5:2379' });
 * const plan = releasePlan({ name: 'checkout-v2', lane: 'gray', steps, store });
 * // etcdctl get /graylane/plans/checkout-v2
 */
export function etcdPlanStore(options: EtcdPlanStoreOptions): PlanStore {
  assertKnownOptions('etcdPlanStore()', options, ETCD_PLAN_STORE_OPTION_KEYS);
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'expected { endpoints }');
  let prefix = options.prefix ?? DEFAULT_PLAN_PREFIX;
  if (typeof prefix !== 'string') throw new InvalidOptionError('prefix', 'expected a string');
  while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  if (prefix.length === 0) throw new InvalidOptionError('prefix', 'expected a non-empty key prefix');
  const requestTimeoutMs = positiveOption(
    options.requestTimeoutMs,
    'requestTimeoutMs',
    DEFAULT_ETCD_REQUEST_TIMEOUT_MS,
  );
  const { client, owned } = etcdClient(options, 'etcdPlanStore()');
  const watches = new Set<KeyWatch>();
  const keyOf = (plan: string) => `${prefix}/${plan}`;
  const decode = (value: string | undefined, revision: string): StoredPlan | undefined => {
    if (value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
    const state = parsePlanState(parsed);
    return state === undefined ? undefined : { state, revision };
  };
  return {
    name: `etcd:${prefix}`,
    async read(plan) {
      const res = await client
        .get(keyOf(plan))
        .options({ deadline: Date.now() + requestTimeoutMs })
        .exec();
      const kv = res.kvs[0];
      return kv === undefined ? undefined : decode(kv.value.toString(), kv.mod_revision);
    },
    async compareAndSet(plan, state, expected) {
      const key = keyOf(plan);
      const guard =
        expected === null ? client.if(key, 'Create', '==', 0) : client.if(key, 'Mod', '==', expected);
      const res = await guard
        .then(client.put(key).value(JSON.stringify(state)))
        .options({ deadline: Date.now() + requestTimeoutMs })
        .commit();
      return res.succeeded ? res.header.revision : null;
    },
    watch(plan, listener) {
      const watch = new KeyWatch(client, keyOf(plan), requestTimeoutMs, (event) => {
        if (event.ok) listener(decode(event.value, event.modRevision));
      });
      watches.add(watch);
      watch.start();
      return () => {
        watches.delete(watch);
        void watch.close();
      };
    },
    async close() {
      await Promise.all([...watches].map((w) => w.close()));
      watches.clear();
      if (owned) client.close();
    },
  };
}
