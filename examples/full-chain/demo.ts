// The demo `npm start` runs: start the chain, send tagged, untagged, rule-matched, weighted and
// invalid-tag requests through the edge, print which instance served each hop, check every walk
// against the one computed from the same rules and instances, check what the diagnostics pages
// counted, and shut everything down.
//
//   node --import tsx examples/full-chain/demo.ts [--registry static|etcd] [--keep] [--json <file>]
import { writeFileSync } from 'node:fs';
import type { DiagnosticsReport } from '@graylane/express';
import type { Hop, RegistryKind } from './instance';
import { type Chain, startChain } from './launcher';
import { expectedLane, expectedWalk, PROCESSES, SERVICES } from './topology';

/** Sticky keys for the weighted rule: the same key always gets the same lane. */
export const STICKY_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];

export interface DemoCase {
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
}

export const CASES: readonly DemoCase[] = [
  { label: 'untagged', headers: {} },
  { label: 'tagged  x-mse-tag: gray', headers: { 'x-mse-tag': 'gray' } },
  { label: 'rule    User-Agent: foo', headers: { 'user-agent': 'foo' } },
  ...STICKY_USERS.map((user) => ({ label: `weight  x-user-id: ${user}`, headers: { 'x-user-id': user } })),
  { label: 'invalid x-mse-tag: -bad', headers: { 'x-mse-tag': '-bad' } },
  { label: 'strip   x-mse-tag: feature-x', headers: { 'x-mse-tag': 'feature-x' } },
];

export interface DemoRow {
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly expectedLane: string | null;
  /** The instance of each service, in chain order. */
  readonly expectedWalk: readonly string[];
  /** The lane the edge reported. */
  readonly lane: string | null;
  readonly hops: readonly Hop[];
  readonly problems: readonly string[];
}

export interface DemoCheck {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DemoResult {
  readonly registry: RegistryKind;
  readonly rows: readonly DemoRow[];
  readonly checks: readonly DemoCheck[];
  /** Diagnostics page of every process, by id. */
  readonly diagnostics: Readonly<Record<string, string>>;
  readonly ok: boolean;
}

async function walk(chain: Chain, demoCase: DemoCase): Promise<DemoRow> {
  const lane = expectedLane(demoCase.headers);
  const instances = expectedWalk(lane);
  const problems: string[] = [];
  const res = await fetch(`${chain.edgeUrl}/walk`, {
    headers: demoCase.headers,
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { lane?: string | null; hops?: Hop[]; error?: string };
  const hops = body.hops ?? [];
  if (res.status !== 200) problems.push(`edge answered ${res.status}: ${body.error ?? ''}`);
  if ((body.lane ?? null) !== lane)
    problems.push(`edge lane ${body.lane ?? 'base'}, expected ${lane ?? 'base'}`);
  const served = hops.slice(1).map((h) => h.instance);
  if (served.join() !== instances.join())
    problems.push(`walk ${served.join(' -> ')}, expected ${instances.join(' -> ')}`);
  for (const hop of hops) {
    if (hop.lane !== lane) problems.push(`${hop.instance} ran in ${hop.lane ?? 'base'}`);
    if (hop.service !== 'edge' && hop.tag !== lane)
      problems.push(`${hop.instance} received x-mse-tag ${hop.tag}`);
  }
  return {
    ...demoCase,
    expectedLane: lane,
    expectedWalk: instances,
    lane: body.lane ?? null,
    hops,
    problems,
  };
}

async function report(url: string): Promise<DiagnosticsReport> {
  const res = await fetch(`${url}graylane.json`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as DiagnosticsReport;
}

function check(what: string, actual: unknown, expected: unknown): DemoCheck {
  const ok = JSON.stringify(actual) === JSON.stringify(expected);
  return {
    what,
    ok,
    detail: ok
      ? String(JSON.stringify(actual))
      : `got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`,
  };
}

/** Sends every case through a running chain and checks the walks and the diagnostics counters. */
export async function runDemo(chain: Chain): Promise<DemoResult> {
  const rows: DemoRow[] = [];
  for (const demoCase of CASES) rows.push(await walk(chain, demoCase));

  const gray = rows.filter((r) => r.expectedLane === 'gray').length;
  const base = rows.length - gray;
  const byRule = [
    rows.filter((r) => r.headers['user-agent'] === 'foo').length,
    rows.filter((r) => r.headers['x-user-id'] !== undefined && r.expectedLane === 'gray').length,
  ];
  const url = (id: string) => chain.processes.get(id)!.diagnostics;
  const [edge, aGray, bStable] = await Promise.all([
    report(url('edge')),
    report(url('a-gray')),
    report(url('b-stable')),
  ]);
  const checks = [
    check('edge: requests per lane', edge.counters.requests, { '(base)': base, gray }),
    check('edge: invalid tags dropped', edge.counters.invalidTags?.total, 1),
    check(
      'edge: rule hits',
      edge.rules?.rules.map((r) => r.hits),
      byRule,
    ),
    check('edge: svc-a instances in its routing table', edge.routingTable.map((r) => r.id).sort(), [
      'a-gray',
      'a-stable',
    ]),
    // One per call: a gRPC call queued while its subchannel connects is picked again, counted once.
    check('a-gray: svc-b fallbacks gray -> base', aGray.counters.fallbacks, [
      { service: 'svc-b', from: 'gray', to: null, calls: gray },
    ]),
    check('b-stable: gray calls it served (fallback)', bStable.counters.requests?.gray, gray),
    check('b-stable: svc-c fallbacks (c-gray exists)', bStable.counters.fallbacks, []),
  ];
  const diagnostics: Record<string, string> = {};
  for (const [id, p] of chain.processes) diagnostics[id] = p.diagnostics;
  const ok = rows.every((r) => r.problems.length === 0) && checks.every((c) => c.ok);
  return { registry: chain.registry, rows, checks, diagnostics, ok };
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width);
}

/** The table `npm start` prints. */
export function formatResult(result: DemoResult, chain: Chain): string {
  const lines: string[] = [];
  const lanes = (id: string) => PROCESSES.find((p) => p.id === id)?.lane ?? null;
  lines.push(`request (through the edge)         lane   ${SERVICES.map((s) => pad(s, 20)).join('')}`);
  for (const row of result.rows) {
    const cells = SERVICES.map((service) => {
      const hop = row.hops.find((h) => h.service === service);
      if (hop === undefined) return pad('-', 20);
      const note = row.expectedLane !== null && lanes(hop.instance) !== row.expectedLane ? ' (fallback)' : '';
      return pad(`${hop.instance}${note}`, 20);
    });
    const verdict = row.problems.length === 0 ? 'ok' : `WRONG: ${row.problems.join('; ')}`;
    lines.push(`${pad(row.label, 35)}${pad(row.expectedLane ?? 'base', 7)}${cells.join('')}${verdict}`);
  }
  lines.push('', "every hop ran in the row's lane and received it as x-mse-tag (checked per hop)", '');
  for (const c of result.checks) lines.push(`${c.ok ? 'ok   ' : 'WRONG'} ${c.what}: ${c.detail}`);
  lines.push('', 'diagnostics (JSON: append graylane.json):');
  for (const [id, url] of Object.entries(result.diagnostics)) {
    const p = chain.processes.get(id)!;
    lines.push(`  ${pad(id, 10)}${pad(url, 40)}${p.spec.service ?? 'edge'} ${p.spec.lane ?? ''}`.trimEnd());
  }
  return lines.join('\n');
}

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function main(): Promise<number> {
  const registry = (argument('--registry') ?? 'static') as RegistryKind;
  if (registry !== 'static' && registry !== 'etcd') {
    console.error(`--registry must be static or etcd, not ${registry}`);
    return 2;
  }
  const keep = process.argv.includes('--keep');
  const jsonFile = argument('--json');
  const started = Date.now();
  console.log(
    `graylane full-chain demo: edge -> svc-a (HTTP) -> svc-b (gRPC) -> svc-c (HTTP), ${registry} registry`,
  );
  const chain = await startChain({ registry, log: (line) => console.log(line) });
  let result: DemoResult | undefined;
  try {
    const where = [...chain.processes.values()]
      .filter((p) => p.spec.service !== null)
      .map((p) => `${p.spec.id}@${p.port}`)
      .join(' ');
    console.log(`running: edge ${chain.edgeUrl}  ${where}\n`);
    result = await runDemo(chain);
    console.log(formatResult(result, chain));
    if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(result, null, 2));
    if (keep) {
      clearTimeout(watchdog);
      console.log('\n--keep: the chain stays up; open the diagnostics URLs above. Ctrl-C to stop.');
      // Ctrl-C, or SIGTERM/SIGHUP (`kill` of npm, a closed terminal): the launcher stops the chain.
      await new Promise<void>(() => setInterval(() => {}, 60_000)); // stays up until a signal
    }
  } finally {
    const { leftoverKeys } = await chain.stop();
    if (leftoverKeys !== null) {
      console.log(`\nstopped; instance keys left in etcd after SIGTERM: ${leftoverKeys} (leases revoked)`);
      if (leftoverKeys !== 0 && result !== undefined) result = { ...result, ok: false };
    } else {
      console.log('\nstopped');
    }
  }
  const final = result!;
  console.log(
    `${final.ok ? 'every walk and counter as expected' : 'SOMETHING WAS WRONG (see above)'} — ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return final.ok ? 0 : 1;
}

let watchdog: NodeJS.Timeout | undefined;

if (require.main === module) {
  // A stuck run must not hang a terminal or CI: give up well past the normal run time.
  watchdog = setTimeout(() => {
    console.error('the demo did not finish within 120 s; giving up');
    process.exit(1);
  }, 120_000);
  watchdog.unref();
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
    },
  );
}
