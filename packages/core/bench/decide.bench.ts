// Edge-rule decide() cost for 1, 20 and 200 rules mixing exact and regex conditions, against a
// bare baseline measured in the same run. Not a test: run it by hand.
//
//   npx tsc -b packages/core && npx tsx packages/core/bench/decide.bench.ts
//
// REGEX_ENGINE=native swaps re2js for V8's backtracking RegExp (same patterns, anchored) to measure
// what the linear-time engine costs. graylane itself always runs re2js; this is measurement only.
import { bench, do_not_optimize, group, run, summary } from 'mitata';

if (process.env.REGEX_ENGINE === 'native') {
  const id = require.resolve('re2js');
  const shim = {
    RE2JS: {
      compile(pattern: string) {
        const re = new RegExp(`^(?:${pattern})$`);
        return { testExact: (input: string) => re.test(input) };
      },
    },
  };
  require.cache[id] = { id, filename: id, loaded: true, exports: shim } as NodeJS.Module;
}

// Loaded after the optional shim: the engine is picked when the first pattern is compiled.
const { compileRules } = require('@graylane/core') as typeof import('@graylane/core');
type Rule = import('@graylane/core').Rule;
type EdgeRequest = import('@graylane/core').EdgeRequest;

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

const engine = process.env.REGEX_ENGINE === 'native' ? 'native RegExp' : 're2js';

for (const count of [1, 20, 200]) {
  const rules = compileRules(makeRules(count));
  const last = lastMatch(count);
  // Sanity: the requests do what their names say.
  if (rules.decide(noMatch).lane !== undefined || rules.decide(last).lane !== 'gray')
    throw new Error('bench setup');
  group(`${count} rule${count === 1 ? '' : 's'} (${engine})`, () => {
    summary(() => {
      bench('baseline: read one header', () =>
        do_not_optimize(noMatch.headers['x-user-id'] === 'user-0'),
      ).baseline(true);
      bench('no match, repeated values', () => do_not_optimize(rules.decide(noMatch as EdgeRequest)));
      bench('no match, fresh value each time', () =>
        do_not_optimize(rules.decide(fresh[next++ & 4095] as EdgeRequest)),
      );
      bench('the last rule matches', () => do_not_optimize(rules.decide(last as EdgeRequest)));
    });
  });
}

// The regex engines alone, same pattern and input, to read the decide numbers against.
{
  const re2 = (require('re2js') as { RE2JS: { compile(p: string): { testExact(s: string): boolean } } })
    .RE2JS;
  const pattern = '(android|ios)-7\\.[0-9]+(\\.[0-9]+)?';
  const compiled = re2.compile(pattern);
  const native = new RegExp(`^(?:${pattern})$`);
  group(`one regex on "ios-7.2.1" (${engine} loaded as re2js)`, () => {
    summary(() => {
      bench('native RegExp.test', () => do_not_optimize(native.test('ios-7.2.1'))).baseline(true);
      bench('engine testExact', () => do_not_optimize(compiled.testExact('ios-7.2.1')));
    });
  });
}

run().then(({ benchmarks }) => {
  // A compact table of medians (more robust than means on a shared machine), one block per group.
  console.log(`\nmedians (p50), node ${process.version} ${process.arch}, regex engine ${engine}`);
  for (const trial of benchmarks) {
    const stats = trial.runs[0]?.stats;
    if (stats === undefined) continue;
    if (trial.baseline) console.log('');
    console.log(
      `  ${trial.alias.padEnd(34)} p50 ${stats.p50.toFixed(0).padStart(7)} ns   avg ${stats.avg.toFixed(0).padStart(7)} ns`,
    );
  }
});
