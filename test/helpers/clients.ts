import http from 'node:http';
import https from 'node:https';
import type { TestContext } from 'node:test';
import axios from 'axios';
import { Agent, type Dispatcher, Pool, fetch as undiciFetch, request as undiciRequest } from 'undici';
import type { HopClient } from './chain';

// Every client below is what a service would write: no lane code, only the call.

function text(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
    });
    res.on('end', () =>
      res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`)),
    );
    res.on('error', reject);
  });
}

/** The body of an undici response as text; rejects unless the status is 200. */
async function okText({ body, statusCode }: Dispatcher.ResponseData): Promise<string> {
  const result = await body.text();
  if (statusCode !== 200) throw new Error(`status ${statusCode}: ${result}`);
  return result;
}

/** undici's `request` on its global dispatcher. */
export const undiciRequestClient: HopClient = async (url, headers) =>
  okText(await undiciRequest(url, { headers }));

/** undici's `fetch`. */
export const undiciFetchClient: HopClient = async (url, headers) => {
  const res = await undiciFetch(url, { headers });
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return res.text();
};

/** Node's global `fetch` (Node's bundled undici). */
export const globalFetchClient: HopClient = async (url, headers) => {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return res.text();
};

/** An undici `Dispatcher` used through `dispatcher.request`. Closed in `t.after`. */
export function dispatcherClient(t: TestContext, dispatcher: Dispatcher): HopClient {
  t.after(() => dispatcher.close());
  return async (url, headers) => {
    const u = new URL(url);
    return okText(
      await dispatcher.request({
        origin: u.origin,
        path: `${u.pathname}${u.search}`,
        method: 'GET',
        headers,
      }),
    );
  };
}

/** An undici `Agent`. */
export function agentClient(t: TestContext): HopClient {
  return dispatcherClient(t, new Agent());
}

/** One undici `Pool` per origin, created on first use. Closed in `t.after`. */
export function poolClient(t: TestContext, options?: Pool.Options): HopClient {
  const pools = new Map<string, Pool>();
  t.after(() => Promise.all([...pools.values()].map((p) => p.close())));
  return async (url, headers) => {
    const u = new URL(url);
    let pool = pools.get(u.origin);
    if (pool === undefined) {
      pool = new Pool(u.origin, options);
      pools.set(u.origin, pool);
    }
    return okText(await pool.request({ path: `${u.pathname}${u.search}`, method: 'GET', headers }));
  };
}

/** axios with its Node http adapter (node:http through follow-redirects). */
export const axiosHttpClient: HopClient = async (url, headers) => {
  const res = await axios.get<string>(url, { headers, adapter: 'http', responseType: 'text' });
  return res.data;
};

/** axios with its fetch adapter (global fetch). */
export const axiosFetchClient: HopClient = async (url, headers) => {
  const res = await axios.get<string>(url, { headers, adapter: 'fetch', responseType: 'text' });
  return res.data;
};

/** `http.request` + `end()`. */
export const httpRequestClient: HopClient = (url, headers) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { headers }, (res) => text(res).then(resolve, reject));
    req.on('error', reject);
    req.end();
  });

/** `http.get`. */
export const httpGetClient: HopClient = (url, headers) =>
  new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => text(res).then(resolve, reject)).on('error', reject);
  });

/** `https.request` + `end()`, trusting `ca`. */
export function httpsRequestClient(ca: string): HopClient {
  return (url, headers) =>
    new Promise((resolve, reject) => {
      const req = https.request(url, { headers, ca }, (res) => text(res).then(resolve, reject));
      req.on('error', reject);
      req.end();
    });
}

/** `https.get`, trusting `ca`. */
export function httpsGetClient(ca: string): HopClient {
  return (url, headers) =>
    new Promise((resolve, reject) => {
      https.get(url, { headers, ca }, (res) => text(res).then(resolve, reject)).on('error', reject);
    });
}
