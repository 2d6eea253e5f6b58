// Edge-rule decide() cost for 1, 20 and 200 rules mixing exact and regex conditions, against a
// bare baseline measured in the same run. Not a test: run it by hand.
//
//   npx tsc -b packages/rules && npx tsx packages/rules/bench/decide.bench.ts
//
// REGEX_ENGINE picks how patterns run, to measure the engines against each other:
//   dfa (default)  what graylane ships: its own DFA where the pattern allows, re2js otherwise
//   re2js          every pattern on re2js (the DFA builder is stubbed out)
//   native         every pattern on V8's backtracking RegExp (same patterns, anchored): not safe
//                  on untrusted patterns; measurement only
const ENGINE = process.env.REGEX_ENGINE ?? 'dfa';
const QUICK = process.env.BENCH_QUICK === '1';
if (ENGINE !== 'dfa' && ENGINE !== 're2js' && ENGINE !== 'native') {
  throw new Error(`REGEX_ENGINE must be dfa, re2js or native, not ${ENGINE}`);
}
// The package's exports map hides its internal files; they are reached by path (require.cache is
// keyed by file name, so a stub put there is what the package itself then loads).
const rulesDist = require('node:path').dirname(require.resolve('@graylane/rules')) as string;
const dfaFile = `${rulesDist}/regex-dfa.js`;
type Matcher = { testExact(input: string): boolean };
const { buildDfa } = require(dfaFile) as { buildDfa(node: unknown): Matcher | null };
const { parseRegex } = require(`${rulesDist}/regex-syntax.js`) as { parseRegex(p: string): unknown };
if (ENGINE !== 'dfa') require.cache[dfaFile]!.exports = { ...require(dfaFile), buildDfa: () => null };
if (ENGINE === 'native') {
  const id = require.resolve('re2js');
  const shim = {
    RE2JS: {
      compile(pattern: string) {
        const re = new RegExp(`^(?:${pattern})$`);
        // programSize: the load-time cost check of graylane; V8 has no such number (measurement only).
        return { testExact: (input: string) => re.test(input), programSize: () => 1 };
      },
    },
  };
  require.cache[id] = { id, filename: id, loaded: true, exports: shim } as NodeJS.Module;
}

const { loadavg } = require('node:os') as typeof import('node:os');

// Loaded after the optional stubs: the engine is picked when a pattern is compiled.
const { compileRules } = require('@graylane/rules') as typeof import('@graylane/rules');
type Rule = import('@graylane/rules').Rule;
type EdgeRequest = import('@graylane/rules').EdgeRequest;

// Even rules: two exact conditions (method and x-user-id). Odd rules: one regex on x-client, a
// short header such as "ios-7.2.1", the usual shape of a client-version rule.
function makeRules(count: number): Rule[] {
  const rules: Rule[] = [];
  for (let i = 0; i < count; i++) {
    rules.push(
      i % 2 === 0
        ? { lane: 'gray', matches: [{ method: 'GET', headers: [{ name: 'x-user-id', value: `user-${i}` }] }] }
        : {
            lane: 'gray',
            matches: [
              {
                headers: [
                  {
                    name: 'x-client',
                    type: 'RegularExpression',
                    value: `(android|ios)-${i}\\.[0-9]+(\\.[0-9]+)?`,
                  },
                ],
              },
            ],
          },
    );
  }
  return rules;
}

// IncomingMessage-shaped requests (what Express hands the edge).
function request(userId: string, client: string) {
  return {
    method: 'GET',
    url: '/api/items?page=2',
    headers: {
      host: 'shop.example.com',
      'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)',
      accept: 'application/json',
      'x-user-id': userId,
      'x-client': client,
    },
  };
}
// No rule matches: every exact condition and every regex runs. The client value repeats (as client
// versions do), so regex results come from the per-condition memo after the first request.
const noMatch = request('user-none', 'ios-1000.2.1');
// The same, with a fresh client value on every request: the memo never hits (worst case).
const fresh = Array.from({ length: 4096 }, (_, i) => request('user-none', `ios-${1000 + i}.2.1`));
let next = 0;
const lastMatch = (count: number) => {
  const last = count - 1;
  return last % 2 === 0 ? request(`user-${last}`, 'ios-1000.2.1') : request('user-none', `ios-${last}.2.1`);
};

const engine = { dfa: 'DFA (re2js fallback)', re2js: 're2js', native: 'native RegExp' }[ENGINE];

// mitata is loaded with import(): required from this CommonJS file through tsx's ESM interop, its
// generated measuring loop runs ~10x slower (see packages/discovery/bench/pick.bench.ts).
async function main(): Promise<void> {
  const { bench, do_not_optimize, group, run, summary } = await import('mitata');

  for (const count of [1, 20, 200]) {
    const rules = compileRules(makeRules(count));
    const last = lastMatch(count);
    // Sanity: the requests do what their names say.
    if (rules.decide(noMatch).lane !== undefined || rules.decide(last).lane !== 'gray')
      throw new Error('bench setup');
    group(`${count} rule${count === 1 ? '' : 's'} (${engine})`, () => {
      summary(() => {
        bench(`${count}: baseline: read one header`, () =>
          do_not_optimize(noMatch.headers['x-user-id'] === 'user-0'),
        ).baseline(true);
        bench(`${count}: no match, repeated values`, () =>
          do_not_optimize(rules.decide(noMatch as EdgeRequest)),
        );
        bench(`${count}: no match, fresh value each time`, () =>
          do_not_optimize(rules.decide(fresh[next++ & 4095] as EdgeRequest)),
        );
        bench(`${count}: the last rule matches`, () => do_not_optimize(rules.decide(last as EdgeRequest)));
      });
    });
  }

  // The regex engines alone, same pattern and input, to read the decide numbers against.
  {
    const pattern = '(android|ios)-7\\.[0-9]+(\\.[0-9]+)?';
    const re2 = (require('re2js') as { RE2JS: { compile(p: string): Matcher } }).RE2JS.compile(pattern);
    const dfa = buildDfa(parseRegex(pattern))!;
    const native = new RegExp(`^(?:${pattern})$`);
    group('one regex on "ios-7.2.1"', () => {
      summary(() => {
        bench('native RegExp.test', () => do_not_optimize(native.test('ios-7.2.1'))).baseline(true);
        bench('DFA testExact', () => do_not_optimize(dfa.testExact('ios-7.2.1')));
        bench(`re2js testExact${ENGINE === 'native' ? ' (stubbed: native)' : ''}`, () =>
          do_not_optimize(re2.testExact('ios-7.2.1')),
        );
      });
    });
  }

  const { benchmarks } = await run({ format: QUICK ? 'quiet' : 'mitata', throw: true });
  // A compact table of medians (more robust than means on a shared machine), one block per group.
  console.log(`\nmedians (p50), node ${process.version} ${process.arch}, regex engine ${engine}`);
  const cases: Record<string, { nsPerOp: number; nsAvg: number }> = {};
  for (const trial of benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats === undefined) continue;
    if (trial.baseline) console.log('');
    console.log(
      `  ${trial.alias.padEnd(40)} p50 ${stats.p50.toFixed(0).padStart(7)} ns   avg ${stats.avg.toFixed(0).padStart(7)} ns`,
    );
    cases[trial.alias] = { nsPerOp: stats.p50, nsAvg: stats.avg };
  }
  const worst20 = cases['20: no match, fresh value each time']!.nsPerOp;
  const targets = [
    {
      name: 'decide: 20 rules, no match, a fresh value each time, ns/op (p50) <= 1000',
      op: '<=',
      limit: 1000,
      value: worst20,
      met: worst20 <= 1000,
    },
  ];
  console.log(
    `BENCH_JSON ${JSON.stringify({
      suite: 'decide',
      node: process.version,
      config: { engine: ENGINE, quick: QUICK, nsPerOp: 'mitata p50', loadAverage: loadavg() },
      cases,
      targets,
    })}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
