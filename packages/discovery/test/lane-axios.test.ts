import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { type TestContext, test } from 'node:test';
import { withLane } from '@graylane/core';
import { laneAxiosDiscovery } from '@graylane/discovery';
import axios, { type AxiosAdapter } from 'axios';
import { listen } from '../../../test/helpers/listen';
import { GRAY, setup } from './helpers';

async function named(t: TestContext, name: string, status = 200): Promise<number> {
  const server = createServer((req, res) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, host: req.headers.host, path: req.url }));
  });
  return listen(server, t);
}

async function fixture(t: TestContext) {
  const stable = await named(t, 'b-stable');
  const gray = await named(t, 'b-gray');
  const failing = await named(t, 'c-500', 500);
  const { discovery } = await setup(
    t,
    [
      { service: 'svc-b', id: 'b-stable', host: '127.0.0.1', port: stable },
      { service: 'svc-b', id: 'b-gray', host: '127.0.0.1', port: gray, labels: GRAY },
      { service: 'svc-c', id: 'c-500', host: '127.0.0.1', port: failing },
      { service: 'svc-d', id: 'd-gray', host: '127.0.0.1', port: gray, labels: GRAY },
    ],
    { balancer: 'p2c' },
    ['svc-b', 'svc-c', 'svc-d'],
  );
  return { discovery, stable };
}

test('axios: http://svc-b goes to the gray instance in lane gray, stable otherwise; Host stays the service', async (t) => {
  const { discovery } = await fixture(t);
  const http = axios.create();
  laneAxiosDiscovery(http, { discovery });
  const stable = await http.get('http://svc-b/orders?id=1');
  assert.deepEqual(stable.data, { name: 'b-stable', host: 'svc-b', path: '/orders?id=1' });
  const gray = await withLane('gray', () => http.get('http://svc-b/x', { params: { q: 1 } }));
  assert.deepEqual(gray.data, { name: 'b-gray', host: 'svc-b', path: '/x?q=1' });
  const based = axios.create({ baseURL: 'http://svc-b/api/' });
  laneAxiosDiscovery(based, { discovery, services: ['svc-b'] });
  assert.deepEqual((await withLane('gray', () => based.get('/items'))).data, {
    name: 'b-gray',
    host: 'svc-b',
    path: '/api/items',
  });
});

test('axios: no instance rejects with NoInstanceError; outstanding counts return to zero after success and failure', async (t) => {
  const { discovery } = await fixture(t);
  const http = axios.create();
  laneAxiosDiscovery(http, { discovery });
  await assert.rejects(http.get('http://svc-d/'), { code: 'GL_ERR_NO_INSTANCE' });
  await assert.rejects(http.get('http://svc-c/'), (err: Error & { response?: { status: number } }) => {
    assert.equal(err.response?.status, 500);
    return true;
  });
  await http.get('http://svc-b/');
  const snapshot = discovery.snapshot();
  for (const service of ['svc-b', 'svc-c']) {
    for (const bucket of snapshot.services[service]!.lanes) {
      for (const instance of bucket.instances)
        assert.equal(instance.outstanding, 0, `${service} ${instance.id}`);
    }
  }
  assert.equal(snapshot.services['svc-c']!.lanes[0]!.instances[0]!.picks, 1);
});

test('axios: other hosts are untouched, and the returned function removes the interceptors', async (t) => {
  const { discovery } = await fixture(t);
  const seen: string[] = [];
  const adapter: AxiosAdapter = async (config) => {
    seen.push(String(config.url));
    return { data: null, status: 200, statusText: 'OK', headers: {}, config };
  };
  const http = axios.create({ adapter });
  const eject = laneAxiosDiscovery(http, { discovery });
  await http.get('http://example.test/a');
  await http.get('http://svc-b/b');
  eject();
  await http.get('http://svc-b/c');
  assert.equal(seen[0], 'http://example.test/a');
  assert.match(seen[1]!, /^http:\/\/127\.0\.0\.1:\d+\/b$/);
  assert.equal(seen[2], 'http://svc-b/c');
});
