import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { enablePropagation, laneAxios, withLane } from '@graylane/core';
import axios from 'axios';
import { headersSeen, startChain } from './helpers/chain';
import { checkAutomaticClient, checkExplicitClient } from './helpers/chain-cases';
import { axiosFetchClient, axiosHttpClient } from './helpers/clients';
import { listen } from './helpers/listen';

// axios is covered automatically through what its adapters call: node:http (http adapter) and
// global fetch (fetch adapter). laneAxios is the explicit, hook-free form.

test('axios http adapter (automatic): the 3-hop chain contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: axiosHttpClient }));

test('axios fetch adapter (automatic): the 3-hop chain contract', (t) =>
  checkAutomaticClient(t, enablePropagation, { client: axiosFetchClient }));

for (const adapter of ['http', 'fetch'] as const) {
  test(`laneAxios without enablePropagation (${adapter} adapter): the chain delivers the lane`, async (t) => {
    const instance = axios.create({ adapter, responseType: 'text' });
    const handle = laneAxios(instance);
    t.after(() => handle.eject());
    assert.equal(typeof handle.id, 'number');
    await checkExplicitClient(t, {
      client: async (url, headers) => (await instance.get<string>(url, { headers })).data,
    });
  });
}

test('laneAxios: eject() removes the interceptor; a custom header name; carry off', async (t) => {
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  const port = await listen(server, t);
  const instance = axios.create({ baseURL: `http://127.0.0.1:${port}` });
  const handle = laneAxios(instance, { header: 'X-Lane' });
  await withLane('gray', () => instance.get('/'));
  handle.eject();
  handle.eject(); // idempotent
  await withLane('gray', () => instance.get('/'));
  assert.equal(seen[0]!['x-lane'], 'gray');
  assert.equal(seen[0]!['x-mse-tag'], undefined);
  assert.equal(seen[1]!['x-lane'], undefined);
});

test('laneAxios rejects what is not an axios instance', () => {
  for (const bad of [null, {}, { interceptors: {} }, { interceptors: { request: { use: 1 } } }]) {
    assert.throws(
      () => laneAxios(bad as never),
      (err: unknown) => (err as { code?: string }).code === 'GL_ERR_INVALID_OPTION',
    );
  }
  assert.throws(() => laneAxios(axios.create(), { header: 'bad header' }), { code: 'GL_ERR_INVALID_OPTION' });
});

test('laneAxios and the automatic hooks together tag once', async (t) => {
  const propagation = enablePropagation();
  t.after(() => propagation.disable());
  const instance = axios.create({ adapter: 'http', responseType: 'text' });
  const handle = laneAxios(instance);
  t.after(() => handle.eject());
  const chain = await startChain(t, {
    client: async (url, headers) => (await instance.get<string>(url, { headers })).data,
  });
  assert.deepEqual(headersSeen(await chain.send({ 'x-mse-tag': 'gray' })), ['gray', 'gray', 'gray']);
});
