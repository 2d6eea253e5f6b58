// Renders bench/RESULTS.md from the run record written by run.mjs.

const CHAIN_LABELS = {
  bare: 'bare (no propagation)',
  'hand-copy': 'hand-written header copy',
  'graylane-auto': 'graylane automatic',
  'graylane-interceptor': 'graylane interceptor',
  otel: 'OpenTelemetry (http+express+undici, baggage)',
  'cls-hooked': 'cls-hooked',
};
const CONTEXT_LABELS = {
  await: 'bare `await` (baseline)',
  graylane: 'graylane `withLane` / `currentLane`',
  'async-local-storage': 'bare AsyncLocalStorage',
  'cls-hooked': 'cls-hooked namespace',
  'otel-baggage': 'OpenTelemetry context + baggage',
};

/** A number with a sensible number of digits. */
export function fmt(n, digits) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (digits !== undefined) return n.toFixed(digits);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

function range(s, digits) {
  if (s === undefined || s.n === 0) return '–';
  if (s.n === 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

function ratio(s) {
  return s === undefined || s.n === 0 ? '–' : fmt(s.median, 3);
}

/** A Markdown table with padded columns (the layout the repo's formatter keeps). */
function table(header, rows) {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function escapeCell(v) {
  return String(v).replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function lane(v) {
  return v === null || v === undefined ? '–' : `\`${v}\``;
}

function chainSection(json) {
  const c = json.config;
  const out = [
    `${c.connections} connections (autocannon, pipelining 1) against the edge; ${c.rounds} rounds × ${c.durationS} s per variant, ` +
      `interleaved (rotated order per round) after a warm-up of ${c.warmupRequests} requests (at most ${c.warmupS} s) each; hop pools of ${c.poolConnections} keep-alive connections. ` +
      'Ratios are medians of per-round ratios (same round, same machine state). CPU = user+system of the three hop processes.',
    '',
  ];
  const rows = [];
  for (const [name, v] of Object.entries(json.variants)) {
    const label = CHAIN_LABELS[name] ?? name;
    if (!v.available) {
      rows.push([label, `not available: ${escapeCell(v.error ?? '')}`, '', '', '', '', '', '', '', '', '']);
      continue;
    }
    const s = v.summary;
    rows.push([
      label,
      `${lane(v.lanes?.tagged)} / ${lane(v.lanes?.untagged)} / ${lane(v.lanes?.invalid)}`,
      range(s.rps, 0),
      range(s.p50Ms, 2),
      range(s.p99Ms, 2),
      range(s.cpuUsPerReq, 0),
      ratio(v.vsBare?.rps),
      ratio(v.vsHandCopy?.rps),
      ratio(v.vsHandCopy?.cpuUsPerReq),
      ratio(v.vsHandCopy?.p99Ms),
      s.errors.max > 0 ? `${s.errors.max} errors` : '',
    ]);
  }
  out.push(
    table(
      [
        'Variant',
        'lane at b (tagged / untagged / invalid)',
        'req/s',
        'p50 ms',
        'p99 ms',
        'CPU µs/req',
        'req/s vs bare',
        'req/s vs hand-copy',
        'CPU/req vs hand-copy',
        'p99 vs hand-copy',
        'notes',
      ],
      rows,
    ),
  );
  return out.join('\n');
}

function contextSection(json) {
  const rows = [];
  for (const [name, v] of Object.entries(json.cases)) {
    const label = CONTEXT_LABELS[name] ?? name;
    if (!v.available) {
      rows.push([label, `not available: ${escapeCell(v.error ?? '')}`, '', '', '']);
      continue;
    }
    rows.push([
      label,
      range(v.opNs, 0),
      name === 'await' ? '0 (baseline)' : range(v.overheadNs, 0),
      name === 'await' ? '–' : ratio(v.overheadVsClsHooked),
      range(v.inProcessAwaitNs, 0),
    ]);
  }
  return [
    `Each op: enter a lane, \`await\` once, read the lane. mitata \`group\`/\`bench\`; each case in its own process, ` +
      `${json.config.rounds} round(s), interleaved; medians (min–max) of mitata's average ns/op. Overhead = ns/op − the \`await\` case's ns/op in the same round. ` +
      'The last column is a plain `await` measured inside the case process after the case set up its store: the tax its hooks put on every other await in the process.',
    '',
    table(
      [
        'Case',
        'ns/op',
        'overhead ns above await',
        'overhead vs cls-hooked',
        'plain await ns in the same process',
      ],
      rows,
    ),
  ].join('\n');
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isSummary(v) {
  return isPlainObject(v) && typeof v.median === 'number' && 'min' in v && 'max' in v;
}

function isFlat(v) {
  return isPlainObject(v) && Object.values(v).every((x) => x === null || typeof x !== 'object');
}

/** An object whose values are scalars or {median, min, max} summaries: one table row. */
function isRow(v) {
  return (
    isPlainObject(v) && Object.values(v).every((x) => x === null || typeof x !== 'object' || isSummary(x))
  );
}

function cell(v) {
  if (typeof v === 'number') return fmt(v);
  if (v === null || v === undefined) return '–';
  if (isSummary(v)) return range(v);
  if (typeof v === 'object') return escapeCell(JSON.stringify(v));
  return escapeCell(v);
}

function objectsTable(rows, firstColumn) {
  const keys = [];
  for (const [, row] of rows) for (const k of Object.keys(row)) if (!keys.includes(k)) keys.push(k);
  const header = firstColumn === undefined ? keys : [firstColumn, ...keys];
  return table(
    header,
    rows.map(([name, row]) => {
      const cells = keys.map((k) => cell(row[k]));
      return firstColumn === undefined ? cells : [escapeCell(name), ...cells];
    }),
  );
}

/**
 * A suite's BENCH_JSON of unknown shape. Flat objects and scalars become list items; an array of
 * objects, or the object-valued entries of an object, become a table; anything deeper stays JSON.
 */
function genericSection(json) {
  const out = [];
  const items = [];
  const flatLine = (key, value) =>
    `- ${key}: ${Object.entries(value)
      .map(([k, v]) => `${k} ${cell(v)}`)
      .join(', ')}`;
  for (const [key, value] of Object.entries(json)) {
    if (key === 'suite' || key === 'node') continue; // already in the heading
    if (isFlat(value)) {
      items.push(flatLine(key, value));
    } else if (Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) {
      out.push(`**${key}**`, '', objectsTable(value.map((row, i) => [String(i), row])), '');
    } else if (isPlainObject(value)) {
      const rows = Object.entries(value).filter(([, v]) => isRow(v));
      const scalars = Object.entries(value).filter(([, v]) => v === null || typeof v !== 'object');
      const deeper = Object.entries(value).filter(
        ([k]) => !rows.some(([r]) => r === k) && !scalars.some(([r]) => r === k),
      );
      for (const [k, v] of scalars) items.push(`- ${key}.${k}: ${cell(v)}`);
      if (rows.length > 0) out.push(`**${key}**`, '', objectsTable(rows, key), '');
      if (deeper.length > 0) {
        out.push(
          `**${key}** (more)`,
          '',
          '```json',
          JSON.stringify(Object.fromEntries(deeper), null, 2),
          '```',
          '',
        );
      }
    } else if (Array.isArray(value)) {
      out.push(`**${key}**`, '', '```json', JSON.stringify(value, null, 2), '```', '');
    } else {
      items.push(`- ${key}: ${cell(value)}`);
    }
  }
  return [...items, '', ...out].join('\n').trim();
}

function runStatus(run, record) {
  const notes = [];
  if (run.elapsedS !== undefined) notes.push(`${fmt(run.elapsedS, 0)} s`);
  if (run.quick && !record.quick) notes.push('quick mode');
  return notes.length === 0 ? run.status : `${run.status} (${notes.join(', ')})`;
}

// ANSI colour and cursor sequences, removed from verbatim output.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');

function verbatim(text) {
  const trimmed = text.replace(ANSI, '').trim();
  if (trimmed === '') return '(no output)';
  const lines = trimmed.split('\n');
  const kept = lines.length > 80 ? [...lines.slice(0, 10), '…', ...lines.slice(-60)] : lines;
  return ['```text', ...kept, '```'].join('\n');
}

function suiteBody(run) {
  if (run.status === 'not available' || run.status === 'skipped') return '';
  if (run.json !== undefined) {
    if (run.suite === 'chain') return chainSection(run.json);
    if (run.suite === 'context') return contextSection(run.json);
    return genericSection(run.json);
  }
  const parts = [verbatim(run.stdout ?? '')];
  if (run.status !== 'ok' && run.stderrTail) parts.push('stderr (last lines):', verbatim(run.stderrTail));
  return parts.join('\n\n');
}

function targetsSection(record) {
  const byName = new Map();
  const versions = record.runtimes.map((r) => r.version);
  for (const run of record.runs) {
    for (const t of run.json?.targets ?? []) {
      if (!byName.has(t.name)) byName.set(t.name, {});
      byName.get(t.name)[run.runtime] = { ...t, quickRun: run.quick && !record.quick };
    }
  }
  if (byName.size === 0) return 'No suite reported targets in this run.';
  const rows = [...byName].map(([name, per]) => [
    escapeCell(name),
    ...versions.map((v) => {
      const t = per[v];
      if (t === undefined || t.value === null) return 'not measured';
      const verdict = t.met ? 'met' : `**missed** (limit ${t.op} ${t.limit})`;
      return `${fmt(t.value, 3)} ${verdict}${t.quickRun ? ' (quick mode)' : ''}`;
    }),
  ]);
  return table(['Target', ...versions.map((v) => `Node ${v}`)], rows);
}

/**
 * Renders RESULTS.md from a run record. `kept` are the results measured by hand, outside
 * `npm run bench` (bench/hop, the message-lane throughput): `[{ file, text }]`, each file a Markdown
 * section of its own under bench/results/, which no run writes. They are appended verbatim after
 * the suites, so regenerating RESULTS.md never drops them. Being read from two places, their links
 * are repository-absolute (`/bench/README.md`).
 */
export function renderMarkdown(record, kept = []) {
  const m = record.machine;
  const lines = [
    '# graylane benchmark results',
    '',
    `Written by \`npm run bench${record.quick ? ' -- --quick' : ''}\` on ${record.date}. How to run and what each suite measures: [README.md](README.md).`,
    '',
  ];
  if (record.quick) {
    lines.push(
      '> **Quick run**: short windows and few rounds, for checking that the suites work. Not results.',
      '',
    );
  }
  lines.push(
    '## Machine',
    '',
    table(
      ['', ''],
      [
        ['CPU', `${escapeCell(m.cpuModel)}, ${m.cores} cores`],
        ['Memory', `${fmt(m.memoryGiB, 1)} GiB`],
        ['OS', m.os],
        ['Load average (1/5/15 min) at start', m.loadAverage.map((x) => fmt(x, 2)).join(' / ')],
        ['Load average at end', record.loadAverageEnd.map((x) => fmt(x, 2)).join(' / ')],
        ['Runtimes', record.runtimes.map((r) => `Node ${r.version} (\`${r.execPath}\`)`).join('<br>')],
        [
          'graylane',
          `${Object.entries(m.graylane)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}; commit ${m.commit ?? '?'}${m.dirty ? ' + uncommitted changes' : ''}`,
        ],
        [
          'Bench dependencies',
          Object.entries(m.benchPackages)
            .map(([k, v]) => `${k} ${v ?? '–'}`)
            .join(', '),
        ],
        ['Total time', `${fmt(record.elapsedS, 0)} s`],
      ],
    ),
    '',
    '## Targets',
    '',
    targetsSection(record),
    '',
  );
  let section = 0;
  for (const suite of record.suites) {
    section++;
    lines.push(`## ${section}. ${suite.title}`, '');
    if (suite.description) lines.push(suite.description, '');
    for (const run of record.runs.filter((r) => r.suite === suite.id)) {
      lines.push(`### Node ${run.runtime}: ${runStatus(run, record)}`, '');
      const body = suiteBody(run);
      if (body !== '') lines.push(body, '');
    }
  }
  for (const { file, text } of kept) {
    lines.push(
      `<!-- Measured by hand; copied from ${file} by bench/run.mjs on every run: edit that file. -->`,
      '',
    );
    lines.push(text.trim(), '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
