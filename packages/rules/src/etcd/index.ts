export type { EtcdConnectionOptions } from './etcd-client';
export {
  DEFAULT_ETCD_KEEPALIVE_TIME_MS,
  DEFAULT_ETCD_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_ETCD_REQUEST_TIMEOUT_MS,
} from './etcd-client';
export type { EtcdPlanStoreOptions } from './etcd-plan-store';
export { DEFAULT_PLAN_PREFIX, etcdPlanStore } from './etcd-plan-store';
export type { EtcdRuleSourceOptions } from './etcd-rule-source';
export { etcdRuleSource } from './etcd-rule-source';
export { DEFAULT_ETCD_RETRY_INITIAL_MS, DEFAULT_ETCD_RETRY_MAX_MS } from './key-watch';
