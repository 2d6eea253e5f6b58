// Lane integrity under load for node:http/https and axios's http adapter (issue 13 item 1): with
// an agent of `maxSockets: 1` requests wait for the one socket, so a header added after the call
// returned (or from a socket callback) would be another request's. The automatic mode adds it in
// the caller's frame — inside `http.request()` on Node 20 (wrap mode), from the
// `http.client.request.created` channel on 22.12+/24 — before the request is queued.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { test } from 'node:test';
import { enablePropagation, laneAxios } from '@graylane/core';
import axios from 'axios';
import { readBody } from './helpers/http-call';
import {
  type CellClient,
  type CellResult,
  describeCell,
  laneEcho,
  runCell,
} from './helpers/isolation-matrix';
import { selfSignedPair } from './helpers/tls';

const PER_CELL = 500;

function httpRequestClient(agent: http.Agent | undefined): CellClient {
  return (url) =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { agent }, (res) => readBody(res).then(resolve, reject));
      req.on('error', reject);
      req.end();
    });
}

function httpGetClient(agent: http.Agent | undefined): CellClient {
  return (url) =>
    new Promise((resolve, reject) => {
      http.get(url, { agent }, (res) => readBody(res).then(resolve, reject)).on('error', reject);
    });
}

function httpsRequestClient(agent: https.Agent): CellClient {
  return (url) =>
    new Promise((resolve, reject) => {
      const req = https.request(url, { agent }, (res) => readBody(res).then(resolve, reject));
      req.on('error', reject);
      req.end();
    });
}

function axiosHttpClient(agent: http.Agent | undefined): CellClient {
  return async (url) =>
    (await axios.get<string>(url, { adapter: 'http', httpAgent: agent, responseType: 'text' })).data;
}

/** The agents a service uses: Node's global agent, and keep-alive agents with 1 and 2 sockets. */
const AGENTS: ReadonlyArray<[string, () => http.Agent | undefined]> = [
  ['global agent', () => undefined],
  ['agent maxSockets 1', () => new http.Agent({ keepAlive: true, maxSockets: 1 })],
  ['agent maxSockets 2', () => new http.Agent({ keepAlive: true, maxSockets: 2 })],
];

function assertClean(result: CellResult): void {
  assert.equal(result.failed, 0, describeCell(result));
  assert.equal(result.wrong, 0, describeCell(result));
  assert.equal(result.lost, 0, describeCell(result));
}

test('isolation matrix: node:http and axios http adapter × agents, automatic propagation', async (t) => {
  const { url } = await laneEcho(t);
  const propagation = enablePropagation({ undici: false, openTelemetry: false });
  t.after(() => propagation.disable());
  t.diagnostic(`http hook mode: ${propagation.httpMode}`);
  let requests = 0;
  for (const [agentName, make] of AGENTS) {
    const agent = make();
    const clients: ReadonlyArray<[string, CellClient]> = [
      ['http.request', httpRequestClient(agent)],
      ['http.get', httpGetClient(agent)],
      ['axios http adapter', axiosHttpClient(agent)],
    ];
    for (const [clientName, client] of clients) {
      await t.test(`${clientName} × ${agentName}`, async (t) => {
        const result = await runCell(`${clientName} × ${agentName}`, client, url, { total: PER_CELL });
        t.diagnostic(describeCell(result));
        requests += result.total;
        assertClean(result);
      });
    }
    agent?.destroy();
  }
  t.diagnostic(`http cells: ${requests} requests`);
});

test('isolation matrix: node:https × agent maxSockets 1, automatic propagation', async (t) => {
  const tls = await selfSignedPair();
  const { url } = await laneEcho(t, tls);
  const propagation = enablePropagation({ undici: false, openTelemetry: false });
  t.after(() => propagation.disable());
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: tls.cert });
  t.after(() => agent.destroy());
  const result = await runCell('https.request × agent maxSockets 1', httpsRequestClient(agent), url, {
    total: PER_CELL,
  });
  t.diagnostic(describeCell(result));
  assertClean(result);
});

// The hook-free form: laneAxios on an instance, no enablePropagation at all.
test('isolation matrix: laneAxios (http adapter, agent maxSockets 1) without enablePropagation', async (t) => {
  const { url } = await laneEcho(t);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const instance = axios.create({ adapter: 'http', httpAgent: agent, responseType: 'text' });
  const handle = laneAxios(instance);
  t.after(() => handle.eject());
  const result = await runCell(
    'laneAxios instance × agent maxSockets 1',
    async (target) => (await instance.get<string>(target)).data,
    url,
    { total: PER_CELL },
  );
  t.diagnostic(describeCell(result));
  assertClean(result);
});
