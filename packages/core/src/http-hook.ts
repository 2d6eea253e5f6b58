import * as diagnosticsChannel from 'node:diagnostics_channel';
import http, { type ClientRequest } from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import { Duplex } from 'node:stream';
import {
  type HeaderAccess,
  type OutboundConfig,
  outboundContext,
  outboundCounters,
  writeOutbound,
} from './internal/outbound-headers';

/** How node:http/node:https requests are reached. */
export type HttpHookMode = 'channel' | 'wrap';

const HTTP_ACCESS: HeaderAccess<ClientRequest> = {
  has(request, name) {
    return request.getHeader(name) !== undefined;
  },
  set(request, name, value) {
    // Headers given as a raw array, or with `Expect`, are rendered in the constructor.
    if (request.headersSent) return false;
    request.setHeader(name, value);
    return true;
  },
};

let requestCreatedChannel: boolean | undefined;

/**
 * True when this Node publishes `http.client.request.created` before the headers are rendered
 * (Node 22.12+ and 23.2+; Node 20 has only `http.client.request.start`, which fires after the
 * headers are sent and so cannot add one). Detected by capability, once: a request is built on a
 * socket that never connects, and we look whether the channel saw it.
 */
export function hasRequestCreatedChannel(): boolean {
  if (requestCreatedChannel === undefined) requestCreatedChannel = probeRequestCreatedChannel();
  return requestCreatedChannel;
}

function probeRequestCreatedChannel(): boolean {
  let seen = false;
  const onCreated = (): void => {
    seen = true;
  };
  const channel = diagnosticsChannel.channel('http.client.request.created');
  channel.subscribe(onCreated);
  try {
    const request = http.request({ createConnection: unconnectedSocket, headers: { host: 'probe.invalid' } });
    request.on('error', ignore);
    request.destroy();
  } catch {
    // A runtime that cannot build the probe cannot be relied on for the channel either.
  } finally {
    channel.unsubscribe(onCreated);
  }
  return seen;
}

function unconnectedSocket(): Duplex {
  return new Duplex({ read: ignore, write: discard });
}

function ignore(): void {}

function discard(_chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
  callback();
}

let config: OutboundConfig | null = null;

function tag(request: ClientRequest, client: 'http' | 'https'): void {
  const active = config;
  if (active === null) return;
  const context = outboundContext();
  if (context === undefined) return;
  // Runs inside the caller's http.request() or a channel subscriber: never throw from here.
  try {
    writeOutbound(request, HTTP_ACCESS, context, active, client);
  } catch {
    outboundCounters.dropped++;
  }
}

// ---- channel mode (Node 22.12+ / 23.2+) --------------------------------------------------------

const createdChannel = diagnosticsChannel.channel('http.client.request.created');

function onHttpRequestCreated(message: unknown): void {
  const request = (message as { request?: ClientRequest } | null)?.request;
  if (request === undefined || request === null || typeof request.setHeader !== 'function') return;
  tag(request, (request as { protocol?: string }).protocol === 'https:' ? 'https' : 'http');
}

// ---- wrap mode (Node 20, or forced) ------------------------------------------------------------

type RequestFn = (a?: unknown, b?: unknown, c?: unknown) => ClientRequest;
type ClientModule = Record<'request' | 'get', RequestFn>;

/** One replaced export. `inChain` stays true while another wrapper on top keeps ours reachable. */
interface Slot {
  readonly module: ClientModule;
  readonly key: 'request' | 'get';
  readonly wrapper: RequestFn;
  original: RequestFn;
  inChain: boolean;
}

const httpModule = http as unknown as ClientModule;
const httpsModule = https as unknown as ClientModule;

function slot(module: ClientModule, key: 'request' | 'get', wrapper: RequestFn): Slot {
  return { module, key, wrapper, original: module[key], inChain: false };
}

// Named module-level functions with three fixed parameters: no per-call closure or rest array.
// While the hook is off they pass straight through (they stay reachable only when another
// wrapper was installed on top of ours and could not be unwound).
function laneHttpRequest(this: unknown, a?: unknown, b?: unknown, c?: unknown): ClientRequest {
  const request = HTTP_REQUEST.original.call(this, a, b, c);
  tag(request, 'http');
  return request;
}

function laneHttpGet(this: unknown, a?: unknown, b?: unknown, c?: unknown): ClientRequest {
  if (config === null) return HTTP_GET.original.call(this, a, b, c);
  // What Node's own `get` does, through our `request` so the tag goes in before `end()`.
  const request = laneHttpRequest.call(this, a, b, c);
  request.end();
  return request;
}

function laneHttpsRequest(this: unknown, a?: unknown, b?: unknown, c?: unknown): ClientRequest {
  const request = HTTPS_REQUEST.original.call(this, a, b, c);
  tag(request, 'https');
  return request;
}

function laneHttpsGet(this: unknown, a?: unknown, b?: unknown, c?: unknown): ClientRequest {
  if (config === null) return HTTPS_GET.original.call(this, a, b, c);
  const request = laneHttpsRequest.call(this, a, b, c);
  request.end();
  return request;
}

const HTTP_REQUEST = slot(httpModule, 'request', laneHttpRequest);
const HTTP_GET = slot(httpModule, 'get', laneHttpGet);
const HTTPS_REQUEST = slot(httpsModule, 'request', laneHttpsRequest);
const HTTPS_GET = slot(httpsModule, 'get', laneHttpsGet);
const SLOTS: readonly Slot[] = [HTTP_REQUEST, HTTP_GET, HTTPS_REQUEST, HTTPS_GET];

function wrap(): void {
  for (const s of SLOTS) {
    if (s.inChain) continue;
    s.original = s.module[s.key];
    s.module[s.key] = s.wrapper;
    s.inChain = true;
  }
  // ESM named imports (`import { request } from 'node:http'`) see the wrappers too.
  syncBuiltinESMExports();
}

function unwrap(): void {
  for (const s of SLOTS) {
    // Restore only what is still ours; under a foreign wrapper ours stays and passes through.
    if (s.module[s.key] !== s.wrapper) continue;
    s.module[s.key] = s.original;
    s.inChain = false;
  }
  syncBuiltinESMExports();
}

let installedMode: HttpHookMode | null = null;

/**
 * Tags node:http and node:https requests made in a lane. `channel` subscribes to
 * `http.client.request.created` (Node 22.12+/23.2+) and also covers `new http.ClientRequest()`
 * and functions captured before enabling; `wrap` replaces `request`/`get` on both modules.
 * @internal Used by `enablePropagation` only.
 */
export function installHttpHook(outbound: OutboundConfig, mode: HttpHookMode): void {
  config = outbound;
  installedMode = mode;
  if (mode === 'channel') createdChannel.subscribe(onHttpRequestCreated);
  else wrap();
}

/** Undoes {@link installHttpHook}. @internal */
export function uninstallHttpHook(): void {
  if (installedMode === 'channel') createdChannel.unsubscribe(onHttpRequestCreated);
  else if (installedMode === 'wrap') unwrap();
  installedMode = null;
  config = null;
}
