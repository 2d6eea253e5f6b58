// Fuzz of decide(): seeded, bounded in time, ≥ 100,000 generated requests against a rule set that
// uses every condition type, both regular-expression engines, sticky and random weights, query and
// cookies. Wrong types included. Zero throws, zero invalid lanes, and the worst time per call
// stays under a generous bound (the measured numbers are in docs/rules.md, not asserted here).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLane } from '@graylane/core';
import { compileRules, NO_DECISION, type Rule } from '@graylane/rules';
import { type Random, seeded } from '../../../test/helpers/random';

const SEED = 0x13fa2;
const INPUTS = 100_000;
// Far above anything measured (see docs/rules.md): only a hang or a super-linear path trips it.
// Asserted on the CPU time of the call, which a loaded machine does not stretch the way it stretches
// wall time (a descheduled process); the wall-clock worst is reported alongside.
const WORST_CALL_CPU_BOUND_MS = 1000;

const RULES: Rule[] = [
  { lane: 'exact', matches: [{ method: 'POST', path: '/orders', headers: [{ name: 'x-a', value: 'v' }] }] },
  {
    lane: 'prefix',
    matches: [
      { path: { type: 'Prefix', value: '/api/' }, headers: [{ name: 'X-B', type: 'Prefix', value: 'pre' }] },
    ],
  },
  // On graylane's DFA.
  {
    lane: 'dfa',
    matches: [
      {
        headers: [{ name: 'user-agent', type: 'RegularExpression', value: '(?i)mozilla/[0-9]+\\.[0-9]+ .*' }],
      },
    ],
  },
  // `\b` and `\p{L}` run on re2js.
  {
    lane: 're2js',
    matches: [{ headers: [{ name: 'x-c', type: 'RegularExpression', value: '\\b(?:\\w+\\s?){3,12}\\b' }] }],
  },
  {
    lane: 'unicode',
    matches: [{ cookies: [{ name: 'name', type: 'RegularExpression', value: '\\p{L}{2,20}' }] }],
  },
  {
    lane: 'present',
    matches: [{ headers: [{ name: 'x-d', type: 'Present' }], queryParams: [{ name: 'q', type: 'Present' }] }],
  },
  {
    lane: 'absent',
    matches: [{ headers: [{ name: 'x-e', type: 'Absent' }], cookies: [{ name: 'c', value: '1' }] }],
  },
  {
    lane: 'inverted',
    matches: [
      {
        queryParams: [
          { name: 'env', value: 'prod', invert: true },
          { name: 'env', type: 'Present' },
        ],
      },
    ],
  },
  {
    lane: 'path-re',
    matches: [
      {
        path: { type: 'RegularExpression', value: '/v[0-9]+/(users|orders)/.*' },
        method: { type: 'Prefix', value: 'P' },
      },
    ],
  },
  { lane: 'user-1', matches: [{ headers: [{ name: 'x-user', value: 'u1' }] }] },
  { lane: 'user-2', matches: [{ headers: [{ name: 'x-user', value: 'u2' }] }] },
  { lane: 'user-3', matches: [{ headers: [{ name: 'x-user', value: 'u3' }] }] },
  { lane: 'user-4', matches: [{ headers: [{ name: 'x-user', value: 'u4' }] }] },
  {
    lane: 'sticky-h',
    weight: 30,
    sticky: { header: 'x-user' },
    matches: [{ headers: [{ name: 'x-user', type: 'Present' }] }],
  },
  {
    lane: 'sticky-c',
    weight: 20.5,
    sticky: { cookie: 'uid' },
    matches: [{ cookies: [{ name: 'uid', type: 'Present' }] }],
  },
  {
    lane: 'sticky-q',
    weight: 10,
    sticky: { query: 'uid' },
    matches: [{ queryParams: [{ name: 'uid', type: 'Present' }] }],
  },
  { lane: null, matches: [{ headers: [{ name: 'x-stable', type: 'Present' }] }] },
  { lane: 'random', weight: 5, setHeaders: { 'x-mse-tag': 'random' } },
];

const LANES = new Set(RULES.map((rule) => rule.lane ?? undefined));

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '\t',
  '-',
  '_',
  '.',
  '/',
  '?',
  '#',
  '&',
  '=',
  ';',
  ',',
  '%',
  '+',
  '"',
  'é',
  '中',
  '\u00a0',
  '\ud800',
  '\u{1f600}',
  '\0',
];
const WORDS = [
  'v',
  'pre',
  'prefix',
  'u1',
  'u2',
  'u3',
  'u4',
  'prod',
  'qa',
  'POST',
  'GET',
  '1',
  'Mozilla/5.0 (X11)',
  'hello world foo',
  'Ünïcode',
  '%zz',
  '%E0%A4%A',
  '',
];

function text(random: Random): string {
  const r = random();
  if (r < 0.4) return pick(random, WORDS);
  // About 1 in 200 values is long: up to 16 KB, twice the default input limit.
  const length = r < 0.995 ? Math.floor(random() * 40) : Math.floor(random() * 16_384);
  if (random() < 0.5) return pick(random, CHARS).repeat(length);
  // A random chunk of up to 64 characters, repeated: long values stay cheap to generate.
  let chunk = '';
  for (let i = 0; i < Math.min(length, 64); i++) chunk += pick(random, CHARS);
  return length <= 64 ? chunk : chunk.repeat(Math.ceil(length / chunk.length)).slice(0, length);
}

const NAMES = [
  'x-a',
  'X-B',
  'x-b',
  'user-agent',
  'User-Agent',
  'x-c',
  'x-d',
  'x-e',
  'x-user',
  'X-User',
  'x-stable',
  'cookie',
  'Cookie',
  'baggage',
  'x-mse-tag',
  '__proto__',
  'constructor',
];

function wrong(random: Random): unknown {
  return pick(random, [
    null,
    42,
    Number.NaN,
    true,
    Symbol('s'),
    () => 'f',
    [],
    [Object.create(null)],
    [1, 'a'],
    { toString: null },
    Object.create(null),
    new Date(0),
    10n,
  ]);
}

function headerValue(random: Random): unknown {
  const r = random();
  if (r < 0.75) return text(random);
  if (r < 0.85) return [text(random), text(random)];
  if (r < 0.9) return Math.floor(random() * 1000);
  if (r < 0.93) return undefined;
  return wrong(random);
}

function headers(random: Random): unknown {
  const r = random();
  if (r < 0.05) return wrong(random);
  const record: Record<string, unknown> = {};
  const count = r < 0.998 ? Math.floor(random() * 8) : 1000 + Math.floor(random() * 2000);
  for (let i = 0; i < count; i++) {
    const name = i < 8 || random() < 0.01 ? pick(random, NAMES) : `x-filler-${i}`;
    if (name === 'cookie' || name === 'Cookie') record[name] = cookieHeader(random);
    else record[name] = headerValue(random);
  }
  if (r < 0.15) {
    const fetchHeaders = new Headers();
    for (const [name, value] of Object.entries(record)) {
      if (typeof value === 'string' && value.length < 1000) {
        try {
          fetchHeaders.append(name, value);
        } catch {
          // Not a valid header value for WHATWG Headers: left out.
        }
      }
    }
    return fetchHeaders;
  }
  return record;
}

const SURROGATE = /[\ud800-\udfff]/g;

function wellFormed(value: string): string {
  return value.replace(SURROGATE, '');
}

function cookieHeader(random: Random): unknown {
  if (random() < 0.1) return headerValue(random);
  const parts: string[] = [];
  const count = Math.floor(random() * 5);
  for (let i = 0; i < count; i++) {
    parts.push(
      `${pick(random, ['uid', 'name', 'c', 'x', '', ' uid '])}${random() < 0.9 ? '=' : ''}${text(random)}`,
    );
  }
  return parts.join(pick(random, ['; ', ';', ',']));
}

function target(random: Random): string {
  const path = pick(random, [
    '/',
    '/orders',
    '/api/x',
    '/v2/users/1',
    '/y',
    '',
    '*',
    'http://h',
    'http://h/api/z',
    text(random),
  ]);
  let query = '';
  if (random() < 0.6) {
    const pairs: string[] = [];
    const count = Math.floor(random() * 4);
    for (let i = 0; i < count; i++)
      pairs.push(`${pick(random, ['q', 'env', 'uid', 'x', '', '%zz'])}=${text(random)}`);
    query = `?${pairs.join('&')}`;
  }
  const fragment = random() < 0.1 ? `#${random() < 0.5 ? '?q=1&env=qa' : text(random)}` : '';
  return random() < 0.1 ? `${path}${fragment}${query}` : `${path}${query}${fragment}`;
}

function query(random: Random): unknown {
  const r = random();
  if (r < 0.6) return undefined;
  if (r < 0.7) return wrong(random);
  if (r < 0.8) return new URLSearchParams({ q: wellFormed(text(random)), uid: wellFormed(text(random)) });
  return {
    q: random() < 0.5 ? text(random) : [text(random)],
    env: headerValue(random),
    uid: headerValue(random),
  };
}

function cookies(random: Random): unknown {
  const r = random();
  if (r < 0.7) return undefined;
  if (r < 0.8) return wrong(random);
  return { uid: headerValue(random), name: headerValue(random), c: pick(random, ['1', '2', undefined]) };
}

function request(random: Random): unknown {
  const r = random();
  if (r < 0.02) return wrong(random);
  if (r < 0.03) {
    return new Proxy(
      {},
      {
        get() {
          throw new Error('hostile');
        },
      },
    );
  }
  const method = random() < 0.9 ? pick(random, ['GET', 'POST', 'PUT', 'PATCH', 'get']) : wrong(random);
  if (r < 0.4) {
    return {
      method,
      url: target(random),
      originalUrl: random() < 0.1 ? target(random) : undefined,
      headers: headers(random),
    };
  }
  return {
    method,
    path: random() < 0.95 ? target(random) : wrong(random),
    headers: headers(random),
    query: query(random),
    cookies: cookies(random),
  };
}

test(`decide() fuzz: ${INPUTS} seeded inputs, wrong types included: no throw, no invalid lane, bounded time`, (t) => {
  const random = seeded(SEED);
  const rules = compileRules(RULES, { random: seeded(SEED + 1) });
  const wallNs = new Float64Array(INPUTS);
  let worstCpuUs = 0;
  let decided = 0;
  const byLane = new Map<string | undefined, number>();
  for (let i = 0; i < INPUTS; i++) {
    const input = request(random);
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    let decision: ReturnType<typeof rules.decide>;
    try {
      decision = rules.decide(input as never);
    } catch (err) {
      assert.fail(`input #${i} (seed ${SEED}) threw: ${String(err)}`);
    }
    wallNs[i] = Number(process.hrtime.bigint() - start);
    const used = process.cpuUsage(cpu);
    if (used.user + used.system > worstCpuUs) worstCpuUs = used.user + used.system;
    if (decision === NO_DECISION) continue;
    decided++;
    const lane = decision.lane;
    assert.ok(lane === undefined || parseLane(lane) === lane, `input #${i}: invalid lane ${String(lane)}`);
    assert.ok(LANES.has(lane), `input #${i}: lane ${String(lane)} is no rule's lane`);
    assert.equal(
      RULES[decision.rule!]!.lane ?? undefined,
      lane,
      `input #${i}: the rule index names the lane`,
    );
    byLane.set(lane, (byLane.get(lane) ?? 0) + 1);
  }
  const counters = rules.counters();
  // The generator reaches every rule and every counter: a fuzz that never exercises a path proves nothing.
  for (const lane of LANES)
    assert.ok((byLane.get(lane) ?? 0) > 0, `no input was decided into ${String(lane)}`);
  assert.ok(counters.invalidInputs > 1000, `wrong types counted: ${counters.invalidInputs}`);
  assert.ok(counters.oversizeInputs > 0 && counters.malformedInputs > 0);
  assert.ok(worstCpuUs / 1000 < WORST_CALL_CPU_BOUND_MS, `worst call ${worstCpuUs / 1000} ms of CPU`);
  wallNs.sort();
  const at = (q: number): string =>
    `${(wallNs[Math.min(INPUTS - 1, Math.floor(q * INPUTS))]! / 1000).toFixed(1)} µs`;
  t.diagnostic(
    `${INPUTS} inputs, ${decided} decided, node ${process.version}; wall p50 ${at(0.5)}, p99 ${at(0.99)}, ` +
      `p99.9 ${at(0.999)}, max ${(wallNs[INPUTS - 1]! / 1e6).toFixed(1)} ms; worst CPU ${(worstCpuUs / 1000).toFixed(1)} ms`,
  );
});
