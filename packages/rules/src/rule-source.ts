/**
 * What a {@link RuleSource} delivers: a document holding rules (an array of rules, or
 * `{ rules: [...] }`), or a failure. `invalid` failures are rule sets that cannot be read or
 * converted (counted as rejected); `unavailable` ones are outages (etcd down, object deleted).
 */
export type RuleSourceUpdate =
  | { readonly ok: true; readonly document: unknown; readonly revision?: string }
  | { readonly ok: false; readonly kind: 'invalid' | 'unavailable'; readonly error: Error };

/**
 * A source of rule sets over time: a file, an etcd key, a Kubernetes object. `liveRules()` and
 * `laneEdge()` start it once and validate and compile every document it delivers; a source does
 * not compile anything itself. Implement it to feed rules from another config centre.
 *
 * @example
 * const source: RuleSource = {
 *   name: 'nacos:edge-rules',
 *   start(listener) { nacos.subscribe('edge-rules', (text) => listener({ ok: true, document: JSON.parse(text) })); },
 *   async close() { nacos.unsubscribe('edge-rules'); },
 * };
 */
export interface RuleSource {
  /** Shown in diagnostics: `file:/etc/graylane/rules.yaml`, `etcd:/graylane/rules/edge`. */
  readonly name: string;
  /** Starts delivering; called once. Deliveries are asynchronous and in order. */
  start(listener: (update: RuleSourceUpdate) => void): void;
  /** Stops watching; nothing is delivered afterwards. */
  close(): Promise<void>;
}

/** True for a {@link RuleSource}-shaped value. */
export function isRuleSource(value: unknown): value is RuleSource {
  const candidate = value as Partial<RuleSource> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.start === 'function' &&
    typeof candidate.close === 'function' &&
    typeof candidate.name === 'string'
  );
}
