import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import {
  createLaneContext,
  enablePropagation,
  MAX_CARRY_VALUE_LENGTH,
  propagationCounters,
  resetPropagationCounters,
  withLaneContext,
} from '@graylane/core';
import { headerRecorder } from '../../../test/helpers/header-recorder';

// Carried headers (LaneContext.carry, filled at ingress from IngressOptions.carry) are written
// like the lane, by every automatic client.

const CLIENTS: ReadonlyArray<
  readonly [string, (url: string, headers?: Record<string, string>) => Promise<void>]
> = [
  [
    'global fetch',
    async (url, headers) => {
      await (await fetch(url, { headers })).text();
    },
  ],
  [
    'http.request',
    (url, headers) =>
      new Promise((resolve, reject) => {
        const req = http.request(url, { headers }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      }),
  ],
];

for (const [name, send] of CLIENTS) {
  test(`${name}: carried headers are forwarded; oversize, invalid and explicit ones are not overwritten`, async (t) => {
    const { url, seen } = await headerRecorder(t);
    const handle = enablePropagation({ openTelemetry: false });
    t.after(() => handle.disable());
    resetPropagationCounters();
    const context = createLaneContext('gray', [
      ['x-user-id', '42'],
      ['x-request-id', 'r-1'],
      ['x-huge', 'v'.repeat(MAX_CARRY_VALUE_LENGTH + 1)],
      ['x-control', 'a\u0001b'],
      ['x-newline', 'a\r\nx-injected: 1'],
      ['x-wide', '\u4e2d'],
      ['x-mse-tag', 'not-the-lane'],
      ['bad name', 'v'],
    ]);
    await withLaneContext(context, () => send(url, { 'X-Request-Id': 'explicit' }));
    const headers = seen[0]!;
    assert.equal(headers['x-mse-tag'], 'gray', 'the lane wins over a carried entry of the same name');
    assert.equal(headers['x-user-id'], '42');
    assert.equal(headers['x-request-id'], 'explicit', 'an explicit header wins');
    for (const dropped of ['x-huge', 'x-control', 'x-newline', 'x-injected', 'x-wide', 'bad name']) {
      assert.equal(headers[dropped], undefined, dropped);
    }
    assert.equal(propagationCounters().dropped, 5);
  });

  test(`${name}: carried headers travel in the base lane too; carry: false turns them off`, async (t) => {
    const { url, seen } = await headerRecorder(t);
    const context = createLaneContext(undefined, [['x-user-id', '7']]);
    const handle = enablePropagation({ openTelemetry: false });
    await withLaneContext(context, () => send(url));
    handle.disable();
    const off = enablePropagation({ carry: false, openTelemetry: false });
    t.after(() => off.disable());
    await withLaneContext(context, () => send(url));
    await withLaneContext(createLaneContext('gray', [['x-user-id', '7']]), () => send(url));
    assert.equal(seen[0]!['x-user-id'], '7');
    assert.equal(seen[0]!['x-mse-tag'], undefined, 'no lane, no lane header');
    assert.equal(seen[1]!['x-user-id'], undefined);
    assert.equal(seen[2]!['x-mse-tag'], 'gray');
    assert.equal(seen[2]!['x-user-id'], undefined);
  });
}
