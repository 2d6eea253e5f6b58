import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertKnownOptions, factoryNotCalled, InvalidOptionError, isIncomingRequest } from '@graylane/core';
import { buildReport, compileReportOptions, type DiagnosticsReportOptions } from './diagnostics-report';
import { renderDiagnosticsHtml } from './internal/diagnostics-html';

/** Options of {@link diagnosticsRouter}: what the report shows, and how the page refreshes. */
export interface DiagnosticsRouterOptions extends DiagnosticsReportOptions {
  /** Reload the HTML page every this many seconds (0: never). Default 0. */
  readonly refreshSeconds?: number;
}

const DIAGNOSTICS_ROUTER_OPTION_KEYS: readonly string[] = Object.keys({
  discovery: 1,
  rules: 1,
  trust: 1,
  title: 1,
  counters: 1,
  refreshSeconds: 1,
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
 * An opt-in Express middleware (4 and 5; also a bare `node:http` handler) serving what an
 * operator looks at: the routing table (service | lane | instance host:port | weight | healthy)
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
  assertKnownOptions('diagnosticsRouter()', options, DIAGNOSTICS_ROUTER_OPTION_KEYS);
  const report = compileReportOptions(options);
  const refreshSeconds = options.refreshSeconds ?? 0;
  if (!Number.isInteger(refreshSeconds) || refreshSeconds < 0) {
    throw new InvalidOptionError('refreshSeconds', 'must be an integer >= 0');
  }
  return function diagnosticsRouter(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const format = formatFor(req, path, q === -1 ? '' : url.slice(q + 1));
    if (format === null) {
      next();
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
      next(error);
      return;
    }
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
