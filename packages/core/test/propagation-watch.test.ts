// Forgetting enablePropagation() must not break the chain silently (issue 13 item 9): once a
// request has arrived in a lane, an outbound call made in a lane without the lane header is counted
// and warned about once per process; enabling propagation pauses the watch;
// disablePropagationWarning() removes it. One process per test file: the warning is once per process.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import {
  countIngress,
  disablePropagationWarning,
  enablePropagation,
  propagationCounters,
  resetPropagationCounters,
  withLane,
} from '@graylane/core';
import { request } from 'undici';
import { headerRecorder } from '../../../test/helpers/header-recorder';

function httpGet(url: string, headers?: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

async function callAll(url: string): Promise<void> {
  await (await fetch(url)).text();
  await (await request(url)).body.text();
  await httpGet(url);
}

test('a service that receives lanes but never enabled propagation: warned once, counted, then silenced', async (t) => {
  const { url, seen } = await headerRecorder(t);
  const warnings: Array<Error & { code?: string }> = [];
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code?.startsWith('GL_WARN_') === true) warnings.push(warning);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  resetPropagationCounters();

  // No lane has arrived yet: nothing is watched, nothing costs.
  await withLane('gray', () => callAll(url));
  await settle();
  assert.equal(propagationCounters().unpropagated, 0);
  assert.equal(warnings.length, 0);

  // A request arrives in a lane (adapters count it at ingress); base-lane and base-ingress calls
  // are never counted.
  countIngress(undefined);
  await callAll(url);
  countIngress('gray');
  await callAll(url);
  await settle();
  assert.equal(propagationCounters().unpropagated, 0, 'base-lane calls are fine');

  // Outbound calls in the lane leave without it: every client is counted, one warning in all.
  await withLane('gray', () => callAll(url));
  await settle();
  assert.equal(propagationCounters().unpropagated, 3, 'fetch, undici request, http.request');
  assert.deepEqual(
    warnings.map((w) => w.code),
    ['GL_WARN_PROPAGATION_NOT_ENABLED'],
  );
  assert.match(warnings[0]!.message, /enablePropagation\(\)/);
  assert.match(warnings[0]!.message, /disablePropagationWarning\(\)/);
  assert.ok(seen.every((headers) => headers['x-mse-tag'] === undefined));

  // A call that carries the lane explicitly is fine.
  await withLane('gray', () => httpGet(url, { 'x-mse-tag': 'gray' }));
  assert.equal(propagationCounters().unpropagated, 3);

  // While propagation is enabled the watch is paused; after disable() it is armed again by the
  // next lane at ingress.
  const propagation = enablePropagation({ openTelemetry: false });
  await withLane('gray', () => callAll(url));
  propagation.disable();
  assert.equal(propagationCounters().unpropagated, 3, 'paused while enabled');
  await withLane('gray', () => callAll(url));
  assert.equal(propagationCounters().unpropagated, 3, 'not armed until a lane arrives again');
  countIngress('blue');
  await withLane('blue', () => callAll(url));
  assert.equal(propagationCounters().unpropagated, 6);

  // A service that wants exactly this: silenced for good.
  disablePropagationWarning();
  countIngress('gray');
  await withLane('gray', () => callAll(url));
  await settle();
  assert.equal(propagationCounters().unpropagated, 6);
  assert.equal(warnings.length, 1, 'still one warning in all');
});
