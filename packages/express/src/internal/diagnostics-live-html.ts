import type { LaneFigures } from '@graylane/rules';
import type { LiveReport } from '../diagnostics-live';
import { escapeHtml, table } from './diagnostics-html';

function figures(f: LaneFigures): string {
  return `${f.requests} req, 5xx ${(f.errorRatio * 100).toFixed(2)}%, p50 ${f.p50 ?? '-'} / p90 ${f.p90 ?? '-'} / p99 ${f.p99 ?? '-'} ms`;
}

/** The live-rules and release-plan sections of the page. */
export function renderLiveSections(live: LiveReport | null): string[] {
  if (live === null) return [];
  const sections: string[] = [];
  if (live.rules.length > 0) {
    sections.push(
      '<h2>Live rule sets</h2>',
      table(
        'live-rules',
        [
          'source',
          'version',
          'revision',
          'rules',
          'last reload',
          'reloads',
          'rejected',
          'source errors',
          'last error',
        ],
        live.rules.map((r) => [
          r.source,
          r.version,
          r.revision,
          r.rules,
          r.lastReloadAt,
          r.reloads,
          r.rejected,
          r.sourceErrors,
          r.lastError === null ? null : `${r.lastError} (${r.lastErrorAt})`,
        ]),
        '',
      ),
    );
  }
  for (const p of live.plans) {
    sections.push(
      `<h2>Release plan ${escapeHtml(p.name)}</h2>`,
      table(
        `plan-${p.name}`,
        ['field', 'value'],
        [
          ['lane', p.lane],
          ['phase', p.phase],
          ['step', `${p.step}: ${p.currentStep ?? '-'}`],
          ['weight', p.weight],
          ['header routes', p.headerRoutes.join(', ') || '-'],
          ['abort reason', p.abortReason],
          ['analysis (lane, this step)', figures(p.analysis.lane)],
          ['analysis (base, this step)', figures(p.analysis.base)],
          ['analysis (lane, this run)', figures(p.analysis.runLane)],
          ['analysis (base, this run)', figures(p.analysis.runBase)],
          ['verdict', p.analysis.verdict],
          ['rule-set version', p.version],
          ['store', p.store],
          ['updated', `${p.updatedAt ?? '-'} by ${p.updatedBy ?? '-'}`],
          ['last error', p.lastError],
        ],
        '',
      ),
    );
  }
  return sections;
}
