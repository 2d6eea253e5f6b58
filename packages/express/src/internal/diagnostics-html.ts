import type { DiagnosticsReport } from '../diagnostics-report';
import { renderLiveSections } from './diagnostics-live-html';

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const SPECIAL = /[&<>"']/g;

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(SPECIAL, (c) => ESCAPES[c]!);
}

export function lane(value: string | null | undefined): string {
  return value === null || value === undefined ? '(base)' : value;
}

type Cell = string | number | boolean | null | undefined;

export function table(
  id: string,
  headings: readonly string[],
  rows: ReadonlyArray<readonly Cell[]>,
  empty: string,
) {
  const head = headings.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body =
    rows.length === 0
      ? `<tr><td colspan="${headings.length}" class="empty">${escapeHtml(empty)}</td></tr>`
      : rows
          .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell ?? '')}</td>`).join('')}</tr>`)
          .join('\n');
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;background:#fff}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}
.meta{color:#666;margin:0 0 1rem}table{border-collapse:collapse;min-width:40%}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f6}td.empty{color:#888;font-style:italic}code{font-size:.95em}
.alert{border:1px solid #c62828;background:#fdecea;color:#8e0000;padding:.5rem .8rem}`;

/** Options of {@link renderDiagnosticsHtml}. */
export interface HtmlOptions {
  readonly jsonHref: string;
  readonly refreshSeconds: number;
}

/** Renders the report as one self-contained page: inline CSS, no scripts, every value escaped. */
export function renderDiagnosticsHtml(report: DiagnosticsReport, options: HtmlOptions): string {
  const sections: string[] = [];
  const registry = report.discovery?.services ?? [];
  const broken = registry.filter((s) => s.state === 'stale' || s.state === 'failing');
  if (broken.length > 0) {
    sections.push(
      `<p class="alert" id="registry-alert">Registry failing for ${escapeHtml(broken.map((s) => s.service).join(', '))}: ` +
        'the routing table below is the last good set (or empty), not the current state.</p>',
    );
  }
  if (report.discovery !== null) {
    sections.push(
      '<h2>Registry</h2>',
      table(
        'registry',
        ['service', 'state', 'last update', 'stale since', 'last error'],
        registry.map((s) => [
          s.service,
          s.state,
          s.updatedAt ?? 'never',
          s.staleSince ?? '',
          s.lastError === null ? '' : `${s.lastErrorAt ?? ''} ${s.lastErrorCode ?? ''} ${s.lastError}`.trim(),
        ]),
        'no services tracked yet',
      ),
    );
  }
  sections.push(
    '<h2>Routing table</h2>',
    table(
      'routing-table',
      ['service', 'lane', 'instance', 'host:port', 'weight', 'healthy', 'picks', 'lane label'],
      report.routingTable.map((r) => [
        r.service,
        lane(r.lane),
        r.id,
        r.address,
        r.weight,
        r.healthy,
        r.picks,
        r.unconfiguredLaneLabel === null
          ? r.laneLabel
          : `none (WARNING: "${r.unconfiguredLaneLabel}" looks like a lane label but is not configured)`,
      ]),
      report.discovery === null ? 'no discovery given' : 'no instances',
    ),
    '<h2>Routes</h2>',
    table(
      'routes',
      ['service', 'requested lane', 'served by', 'fallback', 'no instance'],
      report.routes.map((r) => [
        r.service,
        lane(r.lane),
        r.servedBy === undefined ? 'nothing' : lane(r.servedBy),
        r.fallback,
        r.noInstance,
      ]),
      'no routes yet',
    ),
  );
  if (report.rules !== null) {
    const rules = report.rules;
    sections.push(
      '<h2>Edge rules</h2>',
      `<p>trust: <code>${escapeHtml(rules.trust ?? '(not given)')}</code>; no rule matched: ${escapeHtml(rules.noMatch)}; malformed inputs: ${escapeHtml(rules.malformedInputs)}; oversize inputs: ${escapeHtml(rules.oversizeInputs)}; wrong-typed inputs: ${escapeHtml(rules.invalidInputs)}</p>`,
      table(
        'edge-rules',
        ['#', 'name', 'lane', 'matches', 'weight', 'sticky', 'headers', 'hits'],
        rules.rules.map((r) => [
          r.index,
          r.name,
          lane(r.lane),
          r.matches,
          r.weight,
          r.sticky,
          r.headers,
          r.hits,
        ]),
        'no rules',
      ),
    );
  }
  sections.push(...renderLiveSections(report.live)); // live rules and release plans
  const counters = report.counters;
  sections.push(
    '<h2>Counters per lane</h2>',
    table(
      'lane-counters',
      ['lane', 'requests', 'fallbacks'],
      counters.lanes.map((r) => [lane(r.lane), r.requests, r.fallbacks]),
      'nothing counted yet',
    ),
    '<h2>Fallbacks</h2>',
    table(
      'fallbacks',
      ['service', 'from lane', 'to lane', 'calls'],
      counters.fallbacks.map((r) => [r.service, lane(r.from), lane(r.to), r.calls]),
      'no fallbacks',
    ),
  );
  if (counters.invalidTags !== null) {
    const tags = counters.invalidTags;
    sections.push(
      '<h2>Invalid tags dropped</h2>',
      table(
        'invalid-tags',
        ['reason', 'count'],
        [
          ['grammar', tags.grammar],
          ['oversize', tags.oversize],
          ['unmapped', tags.unmapped],
          ['malformed-baggage', tags['malformed-baggage']],
          ['total', tags.total],
        ],
        '',
      ),
    );
  }
  const discovery = report.discovery;
  const source =
    discovery === null
      ? ''
      : ` · registry ${escapeHtml(discovery.registry ?? '?')}, balancer ${escapeHtml(discovery.balancer ?? '?')}`;
  const refresh =
    options.refreshSeconds > 0 ? `<meta http-equiv="refresh" content="${options.refreshSeconds}">` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">${refresh}
<title>graylane · ${escapeHtml(report.title)}</title><style>${STYLE}</style></head>
<body><h1>graylane diagnostics · ${escapeHtml(report.title)}</h1>
<p class="meta">generated ${escapeHtml(report.generatedAt)} · pid ${escapeHtml(report.pid)} · up ${escapeHtml(report.uptimeSeconds)} s${source} · <a href="${escapeHtml(options.jsonHref)}">JSON</a></p>
${sections.join('\n')}
</body></html>
`;
}
