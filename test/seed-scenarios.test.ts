// The runnable examples of the four seed scenarios, asserted: each one imports the configuration a
// user already has and must decide exactly as the source system would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAmbassadorWeights } from '../examples/ambassador-weights/index';
import { runIstioVersion } from '../examples/istio-version/index';
import { runKruiseFullLink } from '../examples/kruise-full-link/index';
import { runNginxCanary } from '../examples/nginx-canary/index';
import { seeded } from './helpers/random';

const N = 20_000;
const near = (count: number, share: number, label: string) =>
  assert.ok(Math.abs(count / N - share) < 0.015, `${label}: ${count}/${N}, expected about ${share * 100}%`);

test('ingress-nginx: foo: bar always enters; weight 30 for the rest; then the full switch', () => {
  const [first, switched] = runNginxCanary({ requests: N, random: seeded(1) });
  assert.equal(first!.withFooBar, N);
  near(first!.withOtherFoo, 0.3, 'foo: baz falls through to the weight');
  near(first!.withoutHeader, 0.3, 'no header');
  assert.deepEqual([switched!.withFooBar, switched!.withOtherFoo, switched!.withoutHeader], [N, N, N]);
});

test('Istio: version 100 -> v1 (base), version 200 -> v2 (gray), the rest 10/90', () => {
  const { subsetLanes, counts } = runIstioVersion({ requests: N, random: seeded(2) });
  assert.deepEqual(subsetLanes, { v1: null, v2: 'gray' });
  const [v100, v200, rest] = counts;
  assert.equal(v100!.gray, 0);
  assert.equal(v200!.gray, N);
  near(rest!.gray, 0.9, 'no version header to v2');
});

test('Ambassador: 80/20 and the Cookie mapping; then 50/50; then 100% to the new service', () => {
  const [initial, half, done] = runAmbassadorWeights({ requests: N, random: seeded(3) });
  assert.equal(initial!.withCookie, N, 'Cookie: UM_distinctid=12345 always reaches app-v2');
  near(initial!.withoutCookie, 0.2, '80/20');
  near(half!.withCookie, 0.5, 'the header mapping is gone: the cookie no longer matters');
  near(half!.withoutCookie, 0.5, '50/50');
  assert.deepEqual([done!.withCookie, done!.withoutCookie], [N, N]);
});

test('OpenKruise: User-Agent: foo enters gray at the gateway and reaches service a with x-mse-tag: gray', async () => {
  const hops = await runKruiseFullLink(['foo', 'bar', 'foo2']);
  assert.deepEqual(hops, [
    { userAgent: 'foo', gatewayLane: 'gray', tagAtA: 'gray', laneAtA: 'gray' },
    { userAgent: 'bar', gatewayLane: null, tagAtA: null, laneAtA: null },
    { userAgent: 'foo2', gatewayLane: null, tagAtA: null, laneAtA: null },
  ]);
});
