import * as diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  assertKnownOptions,
  FactoryNotCalledError,
  factoryNotCalled,
  InvalidOptionError,
  isIncomingRequest,
  type LaneLogger,
} from '@graylane/core';
import {
  buildReport,
  type CompiledReportOptions,
  compileReportOptions,
  type DiagnosticsDiscovery,
  type DiagnosticsReportOptions,
  registryStateRow,
} from './diagnostics-report';
import { renderDiagnosticsHtml } from './internal/diagnostics-html';

/** Options of {@link diagnosticsRouter}: what the report shows, and how the page refreshes. */
export interface DiagnosticsRouterOptions extends DiagnosticsReportOptions {
  /** Reload the HTML page every this many seconds (0: never). Default 0. */
  readonly refreshSeconds?: number | undefined;
  /**
   * Where a registry failure of a service of `discovery` is logged, with the service's registry
   * state (stale since / last update / last error), as a core `LaneLogger` record (`level: 'error'`,
   * `event: 'registry-error'`) — the same hook as `enableLaneObservability({ logger })`. Default:
   * none. The subscription lives as long as the process.
   */
  readonly logger?: LaneLogger | undefined;
}

const DIAGNOSTICS_ROUTER_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  rules: 1,
  trust: 1,
  title: 1,
  counters: 1,
  live: 1,
  refreshSeconds: 1,
  logger: 1,
} satisfies Record<keyof DiagnosticsRouterOptions, 1>);

type Next = (err?: unknown) => void;

type Format = 'json' | 'html';

// `/` negotiates (a browser gets HTML); the named files are fixed.
function formatFor(req: IncomingMessage, path: string, query: string): Format | null {
  if (path === '/graylane.json') return 'json';
  if (path === '/graylane.html' || path === '/index.html') return 'html';
  if (path !== '/' && path !== '') return null;
  if (query.includes('format=json')) return 'json';
  if (query.includes('format=html')) return 'html';
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html') ? 'html' : 'json';
}

/**
 * An opt-in Express middleware (4 and 5) serving what an operator looks at: each service's
 * registry state (loaded / stale since / last error / last update, with a banner when a registry
 * fails), the routing table (service | lane | lane label | instance host:port | weight | healthy)
 * from `discovery.snapshot()`, where each requested lane goes, the edge rules in force with their
 * hits, and counters per lane (requests at ingress, fallbacks by service and from -> to lane,
 * tags dropped at ingress).
 *
 * Mounted at a path, it answers `GET`/`HEAD` on:
 *
 * | path | serves |
 * |---|---|
 * | `/` | HTML for browsers (`Accept: text/html`), JSON otherwise; `?format=json\|html` forces one |
 * | `/graylane.json` | the {@link DiagnosticsReport} as JSON |
 * | `/graylane.html` | a small self-contained HTML page (no scripts, no external resources, every value escaped) |
 *
 * Other paths go to `next()`; other methods get `405`. The counters it reads are the ones graylane
 * keeps anyway (core ingress counters, discovery flows, rule hits): mounting it adds no per-request
 * work elsewhere. Mount it before `laneMiddleware()`/`laneEdge()` so that its own requests are not
 * counted, and on an internal port or behind auth: it shows instance addresses.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options, at setup.
 * @example
 * const rules = compileRules(edgeRules);
 * app.use('/graylane', diagnosticsRouter({ discovery, rules, trust: 'strip', title: 'edge' }));
 * app.use(laneEdge({ rules }));
 */
export function diagnosticsRouter(
  options: DiagnosticsRouterOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  if (isIncomingRequest(options)) {
    // biome-ignore lint/complexity/noArguments: `app.use(diagnosticsRouter)` hands the factory (req, res, next)
    const next: unknown = arguments[2];
    return factoryNotCalled(
      'diagnosticsRouter',
      "app.use('/graylane', diagnosticsRouter({ discovery }))",
      next,
    );
  }
  const { report, refreshSeconds } = compileRouterOptions(options, 'diagnosticsRouter()');
  return function diagnosticsRouter(req: IncomingMessage, res: ServerResponse, next: Next): void {
    serve(report, refreshSeconds, req, res, next);
  };
}

/**
 * The diagnostics page for a service without Express (a gRPC-only service, an admin port): a plain
 * `node:http` request listener serving what {@link diagnosticsRouter} serves at `/`,
 * `/graylane.json` and `/graylane.html`, and `404` elsewhere. Imports nothing of Express (which
 * stays an optional peer): install `@graylane/express` and `@graylane/core` only.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for malformed options, at setup.
 * @example
 * import { createServer } from 'node:http';
 * createServer(diagnosticsHandler({ discovery, title: 'svc-b' })).listen(9464, '127.0.0.1');
 */
export function diagnosticsHandler(
  options: DiagnosticsRouterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  if (isIncomingRequest(options)) {
    // biome-ignore lint/complexity/noArguments: `createServer(diagnosticsHandler)` hands the factory (req, res)
    const res = arguments[1] as ServerResponse;
    handlerNotCalled(options as unknown as IncomingMessage, res);
    return handlerNotCalled;
  }
  const { report, refreshSeconds } = compileRouterOptions(options, 'diagnosticsHandler()');
  return function diagnosticsHandler(req: IncomingMessage, res: ServerResponse): void {
    serve(report, refreshSeconds, req, res, undefined);
  };
}

/** What `createServer(diagnosticsHandler)` gets on every request: a 500 saying what to write. */
function handlerNotCalled(_req: IncomingMessage, res: ServerResponse): void {
  const error = new FactoryNotCalledError(
    'diagnosticsHandler',
    'createServer(diagnosticsHandler({ discovery }))',
  );
  res.statusCode = 500;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`${error.code}: ${error.message}\n`);
}

function compileRouterOptions(
  options: DiagnosticsRouterOptions,
  where: string,
): { report: CompiledReportOptions; refreshSeconds: number } {
  assertKnownOptions(where, options, DIAGNOSTICS_ROUTER_OPTION_KEYS);
  const report = compileReportOptions(options);
  const refreshSeconds = options.refreshSeconds ?? 0;
  if (!Number.isInteger(refreshSeconds) || refreshSeconds < 0) {
    throw new InvalidOptionError('refreshSeconds', 'must be an integer >= 0');
  }
  const logger = options.logger;
  if (logger !== undefined) {
    if (typeof logger !== 'function') throw new InvalidOptionError('logger', 'must be a function');
    if (report.discovery !== undefined) logRegistryErrors(report.discovery, logger);
  }
  return { report, refreshSeconds };
}

// Declared by @graylane/discovery (`discoveryChannels.registryError`); read by name, since this
// package does not depend on discovery.
const REGISTRY_ERROR_CHANNEL = diagnosticsChannel.channel('graylane:registry:error');

interface RegistryErrorMessage {
  readonly registry?: unknown;
  readonly service?: unknown;
  readonly error?: unknown;
}

/** Logs each registry failure of a service `discovery` tracks, with the service's registry state. */
function logRegistryErrors(discovery: DiagnosticsDiscovery, logger: LaneLogger): void {
  REGISTRY_ERROR_CHANNEL.subscribe(function logRegistryError(message: unknown): void {
    const m = message as RegistryErrorMessage;
    if (typeof m.service !== 'string') return;
    const snapshot = discovery.snapshot();
    const state = snapshot.services[m.service];
    if (state === undefined || (snapshot.config?.registry ?? m.registry) !== m.registry) return;
    const row = registryStateRow(m.service, state);
    const registry = String(m.registry);
    const attributes: Record<string, string> = {
      'graylane.registry': registry,
      'graylane.service': row.service,
      'graylane.registry_state': row.state,
    };
    if (row.updatedAt !== null) attributes['graylane.updated_at'] = row.updatedAt;
    if (row.staleSince !== null) attributes['graylane.stale_since'] = row.staleSince;
    const reason = m.error instanceof Error ? m.error.message : String(m.error);
    try {
      logger({
        level: 'error',
        event: 'registry-error',
        message:
          `registry ${registry} failed for ${row.service}: ${reason}; ${row.state} since ${row.staleSince ?? '?'}, ` +
          (row.updatedAt === null
            ? 'no instance set yet (nothing can be picked)'
            : `serving the set of ${row.updatedAt}`),
        attributes,
        error: m.error,
      });
    } catch {
      // Logging never breaks the registry's delivery.
    }
  });
}

function serve(
  report: CompiledReportOptions,
  refreshSeconds: number,
  req: IncomingMessage,
  res: ServerResponse,
  next: Next | undefined,
): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const format = formatFor(req, path, q === -1 ? '' : url.slice(q + 1));
  if (format === null) {
    if (typeof next === 'function') {
      next();
    } else {
      res.statusCode = 404;
      res.end();
    }
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.statusCode = 405;
    res.setHeader('allow', 'GET, HEAD');
    res.end();
    return;
  }
  let body: string;
  try {
    const built = buildReport(report);
    if (format === 'json') {
      body = JSON.stringify(built, null, 2);
      res.setHeader('content-type', 'application/json; charset=utf-8');
    } else {
      const base = (req as { baseUrl?: unknown }).baseUrl;
      body = renderDiagnosticsHtml(built, {
        jsonHref: `${typeof base === 'string' ? base : ''}/graylane.json`,
        refreshSeconds,
      });
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
    }
  } catch (error) {
    if (typeof next === 'function') {
      next(error);
    } else {
      res.statusCode = 500;
      res.end();
    }
    return;
  }
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}
