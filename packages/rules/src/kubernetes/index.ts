export type { KubernetesRuleObject, KubernetesRuleSourceOptions } from './kubernetes-rule-source';
export {
  DEFAULT_CONFIGMAP_KEY,
  DEFAULT_RULE_WATCH_RETRY_INITIAL_MS,
  DEFAULT_RULE_WATCH_RETRY_MAX_MS,
  DEFAULT_RULE_WATCH_TIMEOUT_SECONDS,
  kubernetesRuleSource,
} from './kubernetes-rule-source';
