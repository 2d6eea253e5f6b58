import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { test } from 'node:test';
import { enablePropagation } from '@graylane/core';
import { headersSeen, startChain } from './helpers/chain';
import { checkAutomaticClient } from './helpers/chain-cases';
import { httpGetClient, httpRequestClient, httpsGetClient, httpsRequestClient } from './helpers/clients';
import { selfSignedPair } from './helpers/tls';

// node:http / node:https: `http.client.request.created` where Node has it (22.12+, 23.2+), else
// `request`/`get` wrapped. Both paths run here: 'auto' and a forced 'wrap' (and 'channel' when
// this Node has the channel).
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const HAS_CREATED_CHANNEL = major > 23 || (major === 23 && minor >= 2) || (major === 22 && minor >= 12);
const MODES = [
  { mode: 'auto', skip: false },
  { mode: 'wrap', skip: false },
  { mode: 'channel', skip: !HAS_CREATED_CHANNEL && 'http.client.request.created needs Node 22.12+/23.2+' },
] as const;

for (const { mode, skip } of MODES) {
  const enable = () => enablePropagation({ http: mode });

  test(
    `[http: ${mode}] http.request: lane across a 3-hop chain, none when untagged/invalid, explicit kept, disable()`,
    { skip },
    (t) => checkAutomaticClient(t, enable, { client: httpRequestClient }),
  );

  test(`[http: ${mode}] http.get: the same contract`, { skip }, (t) =>
    checkAutomaticClient(t, enable, { client: httpGetClient }),
  );

  test(`[http: ${mode}] https.request with a self-signed certificate: the same contract`, {
    skip,
  }, async (t) => {
    const tls = await selfSignedPair();
    await checkAutomaticClient(t, enable, { client: httpsRequestClient(tls.cert), tls });
  });

  test(`[http: ${mode}] https.get with a self-signed certificate: the same contract`, { skip }, async (t) => {
    const tls = await selfSignedPair();
    await checkAutomaticClient(t, enable, { client: httpsGetClient(tls.cert), tls });
  });
}

test('auto mode picks the channel where Node has it, else wraps', () => {
  const handle = enablePropagation();
  try {
    assert.equal(handle.httpMode, HAS_CREATED_CHANNEL ? 'channel' : 'wrap');
  } finally {
    handle.disable();
  }
});

test('[http: wrap] request/get are replaced while enabled and the originals are back after disable()', () => {
  const originals = [http.request, http.get, https.request, https.get];
  const handle = enablePropagation({ http: 'wrap' });
  assert.notEqual(http.request, originals[0]);
  assert.notEqual(http.get, originals[1]);
  assert.notEqual(https.request, originals[2]);
  assert.notEqual(https.get, originals[3]);
  handle.disable();
  assert.deepEqual([http.request, http.get, https.request, https.get], originals);
});

test('[http: channel] nothing is replaced: functions captured before enabling are tagged too', {
  skip: MODES[2].skip,
}, async (t) => {
  const captured = http.request;
  const handle = enablePropagation({ http: 'channel' });
  t.after(() => handle.disable());
  assert.equal(http.request, captured);
  const client = (url: string) =>
    new Promise<string>((resolve, reject) => {
      const req = captured(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
  const chain = await startChain(t, { client });
  assert.deepEqual(headersSeen(await chain.send({ 'x-mse-tag': 'gray' })), ['gray', 'gray', 'gray']);
});

test('[http: wrap] ES modules that import { request, get } from node:http are covered', async (t) => {
  const esm = await import('./fixtures/esm-http-client.mjs');
  await t.test('request', (t) =>
    checkAutomaticClient(t, () => enablePropagation({ http: 'wrap' }), { client: esm.esmRequest }),
  );
  await t.test('get', (t) =>
    checkAutomaticClient(t, () => enablePropagation({ http: 'wrap' }), { client: esm.esmGet }),
  );
});
