// An in-process Kubernetes API server for tests: real HTTP(S) on 127.0.0.1, port 0, speaking the
// part of the core/v1 API that @graylane/discovery/kubernetes uses, the way kube-apiserver does.
//
// Exercised: GET Service; list Pods with labelSelector, limit/continue pagination and
// metadata.resourceVersion; watch=true chunked streams of JSON lines (ADDED / MODIFIED / DELETED /
// BOOKMARK / ERROR) resuming from a resourceVersion; label-selector transitions (a Pod whose labels
// stop matching arrives as DELETED, one that starts matching as ADDED); compaction (a watch from a
// resourceVersion older than the compaction point gets an ERROR event with a 410 Status, or HTTP
// 410; an expired continue token gets HTTP 410); dropped and gracefully ended watches;
// timeoutSeconds; bearer-token checks; optional TLS with a caller-supplied certificate.
//
// Also served, for rule sources: ConfigMaps, Istio VirtualServices (networking.istio.io/v1 and
// v1beta1) and Ingresses (networking.k8s.io/v1) as generic objects: list and watch by namespace,
// with `fieldSelector=metadata.name=<name>`, resourceVersion resume, synthetic ADDED events for a
// watch without resourceVersion, and the same compaction (410) as Pods. Put them with
// `putObject()` and remove them with `deleteObject()`.
//
// Not exercised: real authentication and authorization (RBAC, token review, client certificates,
// exec/OIDC plugins), field selectors, resourceVersionMatch and list-from-cache semantics (every list
// reads the latest state; continuation pages are read from the latest state too, not from a
// snapshot), sendInitialEvents, server-initiated bookmarks on a timer, HTTP/2, protobuf, API
// priority and fairness (429), watch-cache window sizes, and any other resource than Services and
// Pods.
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/** Loads `@kubernetes/client-node` (ESM-only in 1.x, so tests load it with `import()`). */
export function loadKubeClient() {
  return import('@kubernetes/client-node');
}

/** The `@kubernetes/client-node` module. */
export type KubeClientModule = Awaited<ReturnType<typeof loadKubeClient>>;

/** A Pod in the shape kube-apiserver serves (the fields graylane reads, plus the usual ones). */
export interface FakePod {
  kind?: 'Pod';
  apiVersion?: 'v1';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
  };
  spec: {
    containers: Array<{
      name: string;
      image: string;
      ports?: Array<{ name?: string; containerPort: number; protocol: string }>;
    }>;
  };
  status: {
    phase: string;
    podIP?: string;
    podIPs?: Array<{ ip: string }>;
    conditions: Array<{ type: string; status: 'True' | 'False' }>;
  };
}

export interface FakePodInit {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  /** Pod IP; `null` for a Pod not scheduled yet. Default: 10.0.x.y from a counter. */
  readonly ip?: string | null;
  /** Ready condition. Default true. */
  readonly ready?: boolean;
  /** Container ports of the first container. Default `[{ name: 'http', containerPort: 8080 }]`. */
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number }>;
}

/** One entry of the server's event log: what every matching watcher was (or would be) sent. */
export interface FakeEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly resourceVersion: number;
  readonly namespace: string;
  /** The Pod after the change (for DELETED: its last state, at the deletion's resourceVersion). */
  readonly object: FakePod;
  /** The Pod before the change (undefined for ADDED), for label-selector transitions. */
  readonly previous: FakePod | undefined;
}

/** The generic object kinds the fake serves (besides Pods and Services). */
export type FakeObjectResource = 'configmaps' | 'virtualservices' | 'ingresses';

/** A generic object: at least a name; namespace defaults to `default`. */
export interface FakeObject {
  kind?: string;
  apiVersion?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  [key: string]: unknown;
}

interface ObjectEvent {
  readonly resource: FakeObjectResource;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly resourceVersion: number;
  readonly object: FakeObject;
}

interface ObjectWatcher {
  readonly resource: FakeObjectResource;
  readonly namespace: string;
  readonly name: string | undefined;
  readonly res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

const OBJECT_PATH =
  /^\/(?:api\/v1|apis\/networking\.istio\.io\/(?:v1|v1beta1|v1alpha3)|apis\/networking\.k8s\.io\/v1)\/(?:watch\/)?namespaces\/([^/]+)\/(configmaps|virtualservices|ingresses)$/;
const OBJECT_KIND: Readonly<Record<FakeObjectResource, [string, string]>> = {
  configmaps: ['ConfigMap', 'v1'],
  virtualservices: ['VirtualService', 'networking.istio.io/v1'],
  ingresses: ['Ingress', 'networking.k8s.io/v1'],
};

/** A request the server received. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly kind: 'service' | 'list' | 'watch' | 'other';
}

export interface FakeKubeApiServerOptions {
  /** Bearer token every request must carry. Default `graylane-test-token`. */
  readonly token?: string;
  /** Serve HTTPS with this key and certificate (PEM). Default: plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

interface Watcher {
  readonly namespace: string;
  readonly selector: Selector;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

type Requirement =
  | { readonly op: 'exists' | '!exists'; readonly key: string }
  | { readonly op: '=' | '!='; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] };
type Selector = readonly Requirement[];

const SET_REQUIREMENT = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/;

/** Parses a label selector (equality- and set-based). Throws on malformed input (-> HTTP 400). */
export function parseLabelSelector(text: string): Selector {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  const requirements: Requirement[] = [];
  for (const raw of parts) {
    const part = raw.trim();
    if (part.length === 0) continue;
    const set = SET_REQUIREMENT.exec(part);
    if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      requirements.push({ op: set[2] as 'in' | 'notin', key: set[1]!, values });
    } else if (part.includes('!=')) {
      const [key, value] = part.split('!=');
      requirements.push({ op: '!=', key: key!.trim(), value: value!.trim() });
    } else if (part.includes('=')) {
      const [key, value] = part.split(/==?/);
      requirements.push({ op: '=', key: key!.trim(), value: value!.trim() });
    } else if (part.startsWith('!')) {
      requirements.push({ op: '!exists', key: part.slice(1).trim() });
    } else if (/^[^\s()]+$/.test(part)) {
      requirements.push({ op: 'exists', key: part });
    } else {
      throw new Error(`unable to parse requirement: ${part}`);
    }
  }
  return requirements;
}

/** True when `labels` satisfy every requirement (an empty selector matches everything). */
export function matchesSelector(
  selector: Selector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const l = labels ?? {};
  for (const r of selector) {
    const has = Object.hasOwn(l, r.key);
    const value = l[r.key];
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case '=':
        if (value !== r.value) return false;
        break;
      case '!=':
        if (value === r.value) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(value!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(value!)) return false;
        break;
    }
  }
  return true;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

const SERVICE_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)$/;
const PODS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/;
const WATCH_PODS_PATH = /^\/api\/v1\/watch\/namespaces\/([^/]+)\/pods$/;

/**
 * The fake API server. Mutate Pods with `addPod`/`updatePod`/`setReady`/`terminate`/`deletePod`/
 * `setLabels`; every change gets the next resourceVersion, goes to the event log and to the open
 * watches it concerns. `compact()` moves the compaction point; `dropWatches()` cuts watch
 * connections; `refuse` answers requests of a kind with an error status.
 */
export class FakeKubeApiServer {
  readonly token: string;
  readonly requests: FakeRequest[] = [];
  readonly events: FakeEvent[] = [];
  /** Answer every request of that kind with this HTTP status (a `Status` body) while set. */
  readonly refuse: { service?: number; list?: number; watch?: number } = {};
  /** How a watch from a compacted resourceVersion is refused. Default 'event' (what kube-apiserver does). */
  goneAs: 'event' | 'status' = 'event';
  /** Called with each request before it is answered (tests use it to compact mid-list, etc.). */
  beforeRequest: ((request: FakeRequest) => void) | undefined;
  readonly #server: http.Server;
  readonly #scheme: 'http' | 'https';
  #port = 0;
  #revision = 1;
  #compacted = 0;
  #ipCounter = 0;
  readonly #pods = new Map<string, FakePod>();
  readonly #services = new Map<string, Record<string, unknown>>();
  readonly #watchers = new Set<Watcher>();
  readonly #objects = new Map<string, FakeObject>();
  readonly #objectEvents: ObjectEvent[] = [];
  readonly #objectWatchers = new Set<ObjectWatcher>();

  private constructor(options: FakeKubeApiServerOptions) {
    this.token = options.token ?? 'graylane-test-token';
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res);
    this.#scheme = options.tls ? 'https' : 'http';
    this.#server = options.tls
      ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler)
      : http.createServer(handler);
  }

  /** Starts a server on 127.0.0.1, port 0; with `t`, it is closed in `t.after`. */
  static async start(options: FakeKubeApiServerOptions = {}, t?: TestContext): Promise<FakeKubeApiServer> {
    const fake = new FakeKubeApiServer(options);
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    fake.#port = (fake.#server.address() as AddressInfo).port;
    if (t) t.after(() => fake.close());
    return fake;
  }

  get port(): number {
    return this.#port;
  }

  /** `http://127.0.0.1:<port>` (or https). */
  get url(): string {
    return `${this.#scheme}://127.0.0.1:${this.#port}`;
  }

  /** The latest resourceVersion (etcd revision). */
  get resourceVersion(): number {
    return this.#revision;
  }

  /** The compaction point: watches from an older resourceVersion get 410. */
  get compactedResourceVersion(): number {
    return this.#compacted;
  }

  /** Open watch streams. */
  get openWatches(): number {
    return this.#watchers.size;
  }

  /** Open watch streams on generic objects (ConfigMaps, VirtualServices, Ingresses). */
  get openObjectWatches(): number {
    return this.#objectWatchers.size;
  }

  /** Creates (ADDED) or replaces (MODIFIED) a generic object; returns it with its new resourceVersion. */
  putObject(resource: FakeObjectResource, object: FakeObject): FakeObject {
    const namespace = object.metadata.namespace ?? 'default';
    const key = `${resource}/${namespace}/${object.metadata.name}`;
    const type = this.#objects.has(key) ? 'MODIFIED' : 'ADDED';
    this.#revision++;
    const [kind, apiVersion] = OBJECT_KIND[resource];
    const stored: FakeObject = clone({
      kind,
      apiVersion,
      ...object,
      metadata: { ...object.metadata, namespace, resourceVersion: String(this.#revision) },
    });
    this.#objects.set(key, stored);
    this.#commitObject({ resource, type, resourceVersion: this.#revision, object: clone(stored) });
    return clone(stored);
  }

  /** Deletes a generic object (DELETED with its last state). */
  deleteObject(resource: FakeObjectResource, name: string, namespace = 'default'): void {
    const key = `${resource}/${namespace}/${name}`;
    const previous = this.#objects.get(key);
    if (!previous) throw new Error(`no ${resource} ${namespace}/${name}`);
    this.#objects.delete(key);
    this.#revision++;
    const object = clone(previous);
    object.metadata.resourceVersion = String(this.#revision);
    this.#commitObject({ resource, type: 'DELETED', resourceVersion: this.#revision, object });
  }

  /** Resolves once `count` generic-object watches are open (bounded by `timeoutMs`). */
  async waitForObjectWatches(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#objectWatchers.size < count) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${count} object watches (have ${this.#objectWatchers.size})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #commitObject(event: ObjectEvent): void {
    this.#objectEvents.push(event);
    for (const w of this.#objectWatchers) {
      if (objectConcerns(w, event))
        w.res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
  }

  #serveObjects(
    res: ServerResponse,
    kind: 'list' | 'watch',
    namespace: string,
    resource: FakeObjectResource,
    query: Record<string, string>,
  ): void {
    let name: string | undefined;
    if (query.fieldSelector) {
      const m = /^metadata\.name=(.+)$/.exec(query.fieldSelector);
      if (!m) {
        this.#reply(res, 400, status(400, 'BadRequest', `unsupported fieldSelector ${query.fieldSelector}`));
        return;
      }
      name = m[1];
    }
    const current = [...this.#objects.entries()]
      .filter(([key]) => key.startsWith(`${resource}/${namespace}/`))
      .map(([, object]) => object)
      .filter((object) => name === undefined || object.metadata.name === name);
    if (kind === 'list') {
      const [objectKind, apiVersion] = OBJECT_KIND[resource];
      this.#reply(res, 200, {
        kind: `${objectKind}List`,
        apiVersion,
        metadata: { resourceVersion: String(this.#revision) },
        items: current,
      });
      return;
    }
    const from = query.resourceVersion;
    const fromRevision = from === undefined || from === '' || from === '0' ? undefined : Number(from);
    if (fromRevision !== undefined && fromRevision < this.#compacted) {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${fromRevision} (${this.#compacted})`) })}\n`,
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const watcher: ObjectWatcher = { resource, namespace, name, res, timer: undefined };
    if (fromRevision === undefined) {
      for (const object of current) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    } else {
      for (const event of this.#objectEvents) {
        if (event.resourceVersion > fromRevision && objectConcerns(watcher, event)) {
          res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
        }
      }
    }
    this.#objectWatchers.add(watcher);
    const timeoutSeconds = Number(query.timeoutSeconds ?? 0);
    if (timeoutSeconds > 0) {
      watcher.timer = setTimeout(() => {
        this.#objectWatchers.delete(watcher);
        res.end();
      }, timeoutSeconds * 1000);
      watcher.timer.unref();
    }
    res.on('close', () => {
      clearTimeout(watcher.timer);
      this.#objectWatchers.delete(watcher);
    });
  }

  /** Requests of one kind, in order. */
  requestsOf(kind: FakeRequest['kind']): FakeRequest[] {
    return this.requests.filter((r) => r.kind === kind);
  }

  /**
   * A KubeConfig for this server built with client-node's own `loadFromOptions` (token user; for
   * plain HTTP `skipTLSVerify`, which client-node requires for http:// servers).
   */
  kubeConfig<K extends { loadFromOptions(options: unknown): void }>(
    KubeConfig: new () => K,
    namespace?: string,
  ): K {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: this.#scheme === 'http' }],
      users: [{ name: 'fake-user', token: this.token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user', namespace }],
      currentContext: 'fake',
    });
    return kc;
  }

  /**
   * A kubeconfig file's text for this server (token user, TLS verification off), for a process of
   * its own to find through `$KUBECONFIG`.
   */
  kubeconfigYaml(): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      `clusters:\n- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true`,
      `users:\n- name: me\n  user:\n    token: ${this.token}`,
      'contexts:\n- name: here\n  context:\n    cluster: fake\n    user: me',
      'current-context: here',
      '',
    ].join('\n');
  }

  /** Creates or replaces a Service with this selector (no selector: a Service without one). */
  putService(name: string, selector: Record<string, string> | undefined, namespace = 'default'): void {
    this.#revision++;
    this.#services.set(`${namespace}/${name}`, {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name, namespace, uid: `svc-${name}`, resourceVersion: String(this.#revision) },
      spec: {
        selector,
        ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
        type: 'ClusterIP',
      },
    });
  }

  deleteService(name: string, namespace = 'default'): void {
    this.#services.delete(`${namespace}/${name}`);
  }

  /** Creates a Pod (ADDED). */
  addPod(init: FakePodInit): FakePod {
    const namespace = init.namespace ?? 'default';
    const key = `${namespace}/${init.name}`;
    if (this.#pods.has(key)) throw new Error(`pod ${key} exists`);
    const n = ++this.#ipCounter;
    const ip = init.ip === undefined ? `10.0.${(n >> 8) & 255}.${n & 255}` : init.ip;
    const ports = (init.ports ?? [{ name: 'http', containerPort: 8080 }]).map((p) => ({
      ...p,
      protocol: 'TCP',
    }));
    const pod: FakePod = {
      metadata: {
        name: init.name,
        namespace,
        uid: `uid-${init.name}-${n}`,
        resourceVersion: '',
        creationTimestamp: new Date(0).toISOString(),
        labels: { ...(init.labels ?? {}) },
      },
      spec: { containers: [{ name: 'app', image: 'example/app:1', ports }] },
      status: {
        phase: ip === null ? 'Pending' : 'Running',
        ...(ip === null ? {} : { podIP: ip, podIPs: [{ ip }] }),
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: init.ready === false ? 'False' : 'True' },
        ],
      },
    };
    this.#commit('ADDED', key, pod, undefined);
    return clone(pod);
  }

  /** Changes a Pod (MODIFIED, or ADDED/DELETED for watchers whose selector it enters/leaves). */
  updatePod(name: string, mutate: (pod: FakePod) => void, namespace = 'default'): FakePod {
    const key = `${namespace}/${name}`;
    const previous = this.#pods.get(key);
    if (!previous) throw new Error(`no pod ${key}`);
    const next = clone(previous);
    mutate(next);
    this.#commit('MODIFIED', key, next, previous);
    return clone(next);
  }

  setReady(name: string, ready: boolean, namespace = 'default'): FakePod {
    return this.updatePod(
      name,
      (pod) => {
        for (const c of pod.status.conditions) if (c.type === 'Ready') c.status = ready ? 'True' : 'False';
      },
      namespace,
    );
  }

  setLabels(name: string, labels: Record<string, string>, namespace = 'default'): FakePod {
    return this.updatePod(
      name,
      (pod) => {
        pod.metadata.labels = { ...labels };
      },
      namespace,
    );
  }

  /** Sets `deletionTimestamp` (graceful termination started; the Pod still exists). */
  terminate(name: string, namespace = 'default'): FakePod {
    return this.updatePod(
      name,
      (pod) => {
        pod.metadata.deletionTimestamp = new Date(1000).toISOString();
        pod.metadata.deletionGracePeriodSeconds = 30;
      },
      namespace,
    );
  }

  /** Removes a Pod (DELETED with its last state). */
  deletePod(name: string, namespace = 'default'): void {
    const key = `${namespace}/${name}`;
    const previous = this.#pods.get(key);
    if (!previous) throw new Error(`no pod ${key}`);
    this.#commit('DELETED', key, clone(previous), previous);
  }

  getPod(name: string, namespace = 'default'): FakePod | undefined {
    const pod = this.#pods.get(`${namespace}/${name}`);
    return pod && clone(pod);
  }

  /** Forgets history up to `revision` (default: now). Older watch resourceVersions get 410. */
  compact(revision = this.#revision): void {
    this.#compacted = Math.max(this.#compacted, revision);
    while (this.events.length > 0 && this.events[0]!.resourceVersion <= this.#compacted) this.events.shift();
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that asked for bookmarks. */
  bookmark(): number {
    let sent = 0;
    for (const w of this.#watchers) {
      if (!w.bookmarks) continue;
      this.#write(w, {
        type: 'BOOKMARK',
        object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.#revision) } },
      });
      sent++;
    }
    return sent;
  }

  /** Cuts every open watch connection abruptly (no final chunk), as a crashed server or proxy would. */
  dropWatches(): number {
    const n = this.#watchers.size;
    for (const w of [...this.#watchers]) {
      this.#forget(w);
      w.res.socket?.destroy();
    }
    return n;
  }

  /** Ends every open watch cleanly (final chunk), as kube-apiserver does at timeoutSeconds. */
  endWatches(): number {
    const n = this.#watchers.size;
    for (const w of [...this.#watchers]) {
      this.#forget(w);
      w.res.end();
    }
    return n;
  }

  /** Resolves once `count` watches are open (bounded by `timeoutMs`). */
  async waitForWatches(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#watchers.size < count) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${count} open watches (have ${this.#watchers.size})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    for (const w of [...this.#watchers]) this.#forget(w);
    for (const w of this.#objectWatchers) clearTimeout(w.timer);
    this.#objectWatchers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #commit(type: FakeEvent['type'], key: string, object: FakePod, previous: FakePod | undefined): void {
    this.#revision++;
    object.metadata.resourceVersion = String(this.#revision);
    if (type === 'DELETED') this.#pods.delete(key);
    else this.#pods.set(key, object);
    const event: FakeEvent = {
      type,
      resourceVersion: this.#revision,
      namespace: object.metadata.namespace,
      object: clone(object),
      previous: previous && clone(previous),
    };
    this.events.push(event);
    for (const w of this.#watchers) {
      const line = watchEventFor(event, w.namespace, w.selector);
      if (line) this.#write(w, line);
    }
  }

  #write(w: Watcher, event: unknown): void {
    w.res.write(`${JSON.stringify(event)}\n`);
  }

  #forget(w: Watcher): void {
    clearTimeout(w.timer);
    this.#watchers.delete(w);
  }

  #reply(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const path = url.pathname;
    const match = SERVICE_PATH.exec(path);
    const watchPath = WATCH_PODS_PATH.exec(path);
    const podsPath = PODS_PATH.exec(path) ?? watchPath;
    const objectPath = OBJECT_PATH.exec(path);
    const kind: FakeRequest['kind'] =
      req.method !== 'GET'
        ? 'other'
        : match
          ? 'service'
          : podsPath || objectPath
            ? watchPath || query.watch === 'true' || query.watch === '1'
              ? 'watch'
              : 'list'
            : 'other';
    const record: FakeRequest = { method: req.method ?? '', path, query, kind };
    this.requests.push(record);
    this.beforeRequest?.(record);

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.#reply(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const refused = kind === 'other' ? undefined : this.refuse[kind];
    if (refused !== undefined) {
      this.#reply(res, refused, status(refused, 'ServiceUnavailable', `refused by the test (${kind})`));
      return;
    }
    if (kind === 'service' && match) {
      const [, namespace, name] = match;
      const service = this.#services.get(`${namespace}/${name}`);
      if (!service) this.#reply(res, 404, status(404, 'NotFound', `services "${name}" not found`));
      else this.#reply(res, 200, service);
      return;
    }
    if ((kind === 'list' || kind === 'watch') && objectPath) {
      const resource = objectPath[2] as FakeObjectResource;
      const watching = kind === 'watch';
      this.#serveObjects(res, watching ? 'watch' : 'list', objectPath[1]!, resource, query);
      return;
    }
    if ((kind === 'list' || kind === 'watch') && podsPath) {
      let selector: Selector;
      try {
        selector = parseLabelSelector(query.labelSelector ?? '');
      } catch (error) {
        this.#reply(res, 400, status(400, 'BadRequest', (error as Error).message));
        return;
      }
      if (kind === 'list') this.#list(res, podsPath[1]!, selector, query);
      else this.#watch(res, podsPath[1]!, selector, query);
      return;
    }
    this.#reply(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
  }

  #list(res: ServerResponse, namespace: string, selector: Selector, query: Record<string, string>): void {
    let listRevision = this.#revision;
    let after = '';
    if (query.continue) {
      let token: { rv: number; after: string };
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString('utf8'));
      } catch {
        this.#reply(res, 400, status(400, 'BadRequest', 'invalid continue token'));
        return;
      }
      if (token.rv < this.#compacted) {
        this.#reply(
          res,
          410,
          status(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result.',
          ),
        );
        return;
      }
      listRevision = token.rv;
      after = token.after;
    }
    const all = [...this.#pods.values()]
      .filter((p) => p.metadata.namespace === namespace && matchesSelector(selector, p.metadata.labels))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
      .filter((p) => p.metadata.name > after);
    const limit = query.limit ? Number(query.limit) : 0;
    const items = limit > 0 ? all.slice(0, limit) : all;
    const metadata: Record<string, unknown> = { resourceVersion: String(listRevision) };
    if (limit > 0 && all.length > limit) {
      const last = items[items.length - 1]!.metadata.name;
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRevision, after: last })).toString(
        'base64url',
      );
      metadata.remainingItemCount = all.length - limit;
    }
    this.#reply(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata, items });
  }

  #watch(res: ServerResponse, namespace: string, selector: Selector, query: Record<string, string>): void {
    const from = query.resourceVersion;
    const fromRevision = from === undefined || from === '' || from === '0' ? undefined : Number(from);
    if (fromRevision !== undefined && (!Number.isInteger(fromRevision) || fromRevision < 0)) {
      this.#reply(res, 400, status(400, 'BadRequest', `invalid resourceVersion ${from}`));
      return;
    }
    const tooOld = fromRevision !== undefined && fromRevision < this.#compacted;
    if (tooOld && this.goneAs === 'status') {
      this.#reply(
        res,
        410,
        status(410, 'Expired', `too old resource version: ${fromRevision} (${this.#compacted})`),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (tooOld) {
      res.end(
        `${JSON.stringify({
          type: 'ERROR',
          object: status(410, 'Expired', `too old resource version: ${fromRevision} (${this.#compacted})`),
        })}\n`,
      );
      return;
    }
    const watcher: Watcher = {
      namespace,
      selector,
      bookmarks: query.allowWatchBookmarks === 'true',
      res,
      timer: undefined,
    };
    if (fromRevision === undefined) {
      // No resourceVersion: synthetic ADDED events for the current state, then live events.
      for (const pod of this.#pods.values()) {
        if (pod.metadata.namespace === namespace && matchesSelector(selector, pod.metadata.labels)) {
          this.#write(watcher, { type: 'ADDED', object: pod });
        }
      }
    } else {
      for (const event of this.events) {
        if (event.resourceVersion <= fromRevision) continue;
        const line = watchEventFor(event, namespace, selector);
        if (line) this.#write(watcher, line);
      }
    }
    this.#watchers.add(watcher);
    const timeoutSeconds = Number(query.timeoutSeconds ?? 0);
    if (timeoutSeconds > 0) {
      watcher.timer = setTimeout(() => {
        this.#forget(watcher);
        res.end();
      }, timeoutSeconds * 1000);
      watcher.timer.unref();
    }
    res.on('close', () => this.#forget(watcher));
  }
}

function objectConcerns(w: ObjectWatcher, event: ObjectEvent): boolean {
  return (
    w.resource === event.resource &&
    (event.object.metadata.namespace ?? 'default') === w.namespace &&
    (w.name === undefined || event.object.metadata.name === w.name)
  );
}

/**
 * The watch event a watcher with this namespace and selector gets for a log entry, if any: a Pod
 * entering the selector arrives as ADDED, one leaving it as DELETED.
 */
export function watchEventFor(
  event: FakeEvent,
  namespace: string,
  selector: Selector,
): { type: string; object: FakePod } | undefined {
  if (event.namespace !== namespace) return undefined;
  const now = event.type !== 'DELETED' && matchesSelector(selector, event.object.metadata.labels);
  const before = event.previous !== undefined && matchesSelector(selector, event.previous.metadata.labels);
  if (event.type === 'DELETED') return before ? { type: 'DELETED', object: event.object } : undefined;
  if (now && before) return { type: 'MODIFIED', object: event.object };
  if (now) return { type: 'ADDED', object: event.object };
  if (before) return { type: 'DELETED', object: event.object };
  return undefined;
}
