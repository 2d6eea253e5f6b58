import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { positiveOption } from '@graylane/core/experimental';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { RuleSourceError } from '../errors';
import { type IstioVirtualServiceOptions, rulesFromIstioVirtualService } from '../import-istio';
import { type NginxCanaryOptions, rulesFromNginxCanary } from '../import-nginx';
import { asError, describeError } from '../internal/caught';
import type { Rule } from '../rule';
import { parseRuleDocument } from '../rule-document';
import type { RuleSource, RuleSourceUpdate } from '../rule-source';
import { assertKubernetesClientInstalled, loadKubernetesClient } from './client';

/** `timeoutSeconds` of each watch request; the watch is reopened from its last resourceVersion. */
export const DEFAULT_RULE_WATCH_TIMEOUT_SECONDS = 300;
/** First delay before reopening a failed watch, ms (doubles up to {@link DEFAULT_RULE_WATCH_RETRY_MAX_MS}). */
export const DEFAULT_RULE_WATCH_RETRY_INITIAL_MS = 250;
/** Largest delay before reopening a failed watch, ms. */
export const DEFAULT_RULE_WATCH_RETRY_MAX_MS = 10_000;
/** Default ConfigMap data key holding the rule document. */
export const DEFAULT_CONFIGMAP_KEY = 'rules.yaml';

/** Which object holds the rules, and how it becomes rules. */
export type KubernetesRuleObject =
  /** A ConfigMap whose `data[key]` (default `rules.yaml`) is a rule document (JSON or YAML). */
  | { readonly kind: 'ConfigMap'; readonly name: string; readonly key?: string | undefined }
  /** An Istio VirtualService, through `rulesFromIstioVirtualService()`. `apiVersion` default `networking.istio.io/v1`. */
  | {
      readonly kind: 'VirtualService';
      readonly name: string;
      readonly import: IstioVirtualServiceOptions;
      readonly apiVersion?: string | undefined;
    }
  /** An ingress-nginx canary Ingress, through `rulesFromNginxCanary()` on its annotations. */
  | { readonly kind: 'Ingress'; readonly name: string; readonly import: NginxCanaryOptions };

/** Options of {@link kubernetesRuleSource}. */
export type KubernetesRuleSourceOptions = KubernetesRuleObject & {
  /** Default: the kubeconfig context's namespace, else `default`. */
  readonly namespace?: string | undefined;
  /** Default: `loadFromDefault()` (in-cluster service account, or `$KUBECONFIG`). */
  readonly kubeConfig?: KubeConfig | undefined;
  /** Default {@link DEFAULT_RULE_WATCH_TIMEOUT_SECONDS} (300). */
  readonly watchTimeoutSeconds?: number | undefined;
};

/** Every key of every kind of {@link KubernetesRuleSourceOptions}. */
type KubernetesRuleSourceKey = KubernetesRuleSourceOptions extends infer T
  ? T extends unknown
    ? keyof T
    : never
  : never;

const KUBERNETES_RULE_SOURCE_OPTION_KEYS: readonly string[] = Object.keys({
  kind: 1,
  name: 1,
  key: 1,
  import: 1,
  apiVersion: 1,
  namespace: 1,
  kubeConfig: 1,
  watchTimeoutSeconds: 1,
} satisfies Record<KubernetesRuleSourceKey, 1>);

interface KubeObject {
  readonly metadata?: { readonly resourceVersion?: string; readonly annotations?: Record<string, string> };
  readonly data?: Record<string, string>;
}

function pathOf(options: KubernetesRuleSourceOptions, namespace: string): string {
  const ns = encodeURIComponent(namespace);
  switch (options.kind) {
    case 'ConfigMap':
      return `/api/v1/namespaces/${ns}/configmaps`;
    case 'VirtualService':
      return `/apis/${options.apiVersion ?? 'networking.istio.io/v1'}/namespaces/${ns}/virtualservices`;
    case 'Ingress':
      return `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`;
  }
}

function rulesOf(options: KubernetesRuleSourceOptions, object: KubeObject): unknown {
  switch (options.kind) {
    case 'ConfigMap': {
      const key = options.key ?? DEFAULT_CONFIGMAP_KEY;
      const text = object.data?.[key];
      if (typeof text !== 'string') throw new Error(`ConfigMap has no data key ${JSON.stringify(key)}`);
      return parseRuleDocument(text, 'auto');
    }
    case 'VirtualService':
      return rulesFromIstioVirtualService(object as Record<string, unknown>, options.import) satisfies Rule[];
    case 'Ingress':
      return rulesFromNginxCanary(object.metadata?.annotations ?? {}, options.import);
  }
}

function isGone(value: unknown): boolean {
  const v = value as { code?: unknown; statusCode?: unknown } | null;
  return v?.code === 410 || v?.statusCode === 410;
}

/**
 * A rule source watching one Kubernetes object: a ConfigMap holding a graylane rule document, an
 * Istio VirtualService, or an ingress-nginx canary Ingress (the last two through the importers, so
 * the edge follows the mesh's configuration as it changes). The object is watched by name
 * (`fieldSelector=metadata.name=<name>`), resuming from the last resourceVersion; a 410 Gone starts
 * over. A change reaches the edge in one watch event. The object deleted, or the API server
 * unreachable: reported, the last good set stays. Needs RBAC `list` and `watch` on the resource.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for bad options.
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` when `@kubernetes/client-node` is not installed.
 * @example
 * import { kubernetesRuleSource } from '@graylane/rules/kubernetes';
 * app.use(laneEdge({
 *   rules: kubernetesRuleSource({
 *     kind: 'VirtualService', name: 'reviews', namespace: 'shop',
 *     import: { subsetLanes: { v1: null, v2: 'gray' } },
 *   }),
 * }));
 */
export function kubernetesRuleSource(options: KubernetesRuleSourceOptions): RuleSource {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'expected { kind, name }');
  assertKnownOptions('kubernetesRuleSource()', options, KUBERNETES_RULE_SOURCE_OPTION_KEYS);
  if (options.kind !== 'ConfigMap' && options.kind !== 'VirtualService' && options.kind !== 'Ingress') {
    throw new InvalidOptionError('kind', "expected 'ConfigMap', 'VirtualService' or 'Ingress'");
  }
  if (typeof options.name !== 'string' || options.name.length === 0)
    throw new InvalidOptionError('name', 'expected an object name');
  if (options.kind !== 'ConfigMap' && (typeof options.import !== 'object' || options.import === null)) {
    throw new InvalidOptionError('import', `expected the importer options of a ${options.kind}`);
  }
  const watchTimeoutSeconds = positiveOption(
    options.watchTimeoutSeconds,
    'watchTimeoutSeconds',
    DEFAULT_RULE_WATCH_TIMEOUT_SECONDS,
    true,
  );
  assertKubernetesClientInstalled('kubernetesRuleSource()');
  let name = `kubernetes:${options.kind}/${options.namespace ?? '(default)'}/${options.name}`;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  async function run(listener: (update: RuleSourceUpdate) => void): Promise<void> {
    const k8s = await loadKubernetesClient('kubernetesRuleSource()');
    let kubeConfig = options.kubeConfig;
    if (kubeConfig === undefined) {
      kubeConfig = new k8s.KubeConfig();
      kubeConfig.loadFromDefault();
    }
    const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
    const namespace = options.namespace ?? (context?.namespace?.trim() || 'default');
    name = `kubernetes:${options.kind}/${namespace}/${options.name}`;
    const watch = new k8s.Watch(kubeConfig);
    const path = pathOf(options, namespace);
    let resourceVersion = '';
    let delay = DEFAULT_RULE_WATCH_RETRY_INITIAL_MS;
    let failing = false;
    let lastDelivered = '';

    const fail = (kind: 'invalid' | 'unavailable', message: string, cause?: unknown) => {
      listener({ ok: false, kind, error: new RuleSourceError(name, message, { cause }) });
    };

    const open = (): void => {
      if (closed) return;
      let events = 0;
      let gone = false;
      const onEvent = (type: string, object: unknown): void => {
        events++;
        const obj = object as KubeObject;
        if (type === 'ERROR') {
          gone = isGone(object);
          if (!gone) fail('unavailable', `watch error: ${JSON.stringify(object)}`);
          controller?.abort();
          return;
        }
        const version = obj?.metadata?.resourceVersion;
        if (typeof version === 'string' && version !== '') resourceVersion = version;
        if (type === 'BOOKMARK') return;
        if (type === 'DELETED') {
          fail('unavailable', `${options.kind} ${namespace}/${options.name} was deleted`);
          lastDelivered = '';
          return;
        }
        if ((type !== 'ADDED' && type !== 'MODIFIED') || version === lastDelivered) return;
        lastDelivered = version ?? '';
        failing = false;
        let document: unknown;
        try {
          document = rulesOf(options, obj);
        } catch (error) {
          fail('invalid', `cannot read rules: ${describeError(error)}`, asError(error));
          return;
        }
        listener({ ok: true, document, revision: version });
      };
      const onDone = (error: unknown): void => {
        controller = undefined;
        if (closed) return;
        if (gone || isGone(error)) {
          resourceVersion = '';
          reopen(0);
        } else if (error && (error as { name?: string }).name !== 'AbortError') {
          if (!failing) {
            failing = true;
            fail('unavailable', `watch failed: ${describeError(error)}`, error);
          }
          reopen(delay);
          delay = Math.min(DEFAULT_RULE_WATCH_RETRY_MAX_MS, delay * 2);
        } else {
          if (events > 0) delay = DEFAULT_RULE_WATCH_RETRY_INITIAL_MS;
          reopen(events > 0 ? 0 : delay);
        }
      };
      const query: Record<string, string | number | boolean> = {
        fieldSelector: `metadata.name=${options.name}`,
        allowWatchBookmarks: true,
        timeoutSeconds: watchTimeoutSeconds,
      };
      if (resourceVersion !== '') query.resourceVersion = resourceVersion;
      watch.watch(path, query, onEvent, onDone).then(
        (c) => {
          if (closed) c.abort();
          else controller = c;
        },
        (error: unknown) => onDone(error ?? new Error('watch failed')),
      );
    };
    const reopen = (ms: number): void => {
      if (closed) return;
      timer = setTimeout(open, ms);
      timer.unref();
    };
    open();
  }

  return {
    get name() {
      return name;
    },
    start(listener) {
      run(listener).catch((error: unknown) => {
        if (!closed) listener({ ok: false, kind: 'unavailable', error: asError(error) });
      });
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      controller?.abort();
    },
  };
}
