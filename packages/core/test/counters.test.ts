import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import {
  BASE_LANE_KEY,
  countIngress,
  countInvalidTag,
  type IngressLaneMessage,
  type InvalidTagMessage,
  ingressCounters,
  MAX_COUNTED_LANES,
  OTHER_LANES,
  resetIngressCounters,
} from '@graylane/core';

test('countIngress counts requests per lane, the base lane under (base)', () => {
  resetIngressCounters();
  countIngress('gray');
  countIngress('gray');
  countIngress(undefined);
  countIngress('blue');
  assert.deepEqual(ingressCounters().requests, { gray: 2, [BASE_LANE_KEY]: 1, blue: 1 });
});

test(`past ${MAX_COUNTED_LANES} distinct keys, new lanes count under (other); known lanes keep counting`, () => {
  resetIngressCounters();
  for (let i = 0; i < MAX_COUNTED_LANES; i++) countIngress(`lane-${i}`);
  countIngress('late-1');
  countIngress('late-2');
  countIngress('lane-0');
  const { requests } = ingressCounters();
  assert.equal(requests['late-1'], undefined);
  assert.equal(requests[OTHER_LANES], 2);
  assert.equal(requests['lane-0'], 2);
  assert.equal(Object.keys(requests).length, MAX_COUNTED_LANES + 1, 'memory stays bounded');
});

test('lane names that collide with Object.prototype members are plain counters', () => {
  resetIngressCounters();
  countIngress('constructor');
  countIngress('toString');
  countIngress('constructor');
  const { requests } = ingressCounters();
  assert.equal(requests['constructor'], 2);
  assert.equal(requests['toString'], 1);
});

test('countInvalidTag counts by reason and the total is their sum', () => {
  resetIngressCounters();
  countInvalidTag('header', 'x-mse-tag', 'grammar', 'a b');
  countInvalidTag('metadata', 'x-mse-tag', 'oversize', 'x'.repeat(100));
  countInvalidTag('header', 'version', 'unmapped', '300');
  countInvalidTag('baggage', 'x-mse-tag', 'malformed-baggage', '%');
  countInvalidTag('header', 'x-mse-tag', 'grammar', '-');
  countInvalidTag('header', 'x-mse-tag', 'conflict', 'gray, blue');
  countInvalidTag('header', 'x-mse-tag', 'type', 'null');
  countInvalidTag('metadata', 'x-mse-tag', 'unreadable', '');
  countInvalidTag('header', '(headers)', 'type', 'number');
  assert.deepEqual(ingressCounters().invalidTags, {
    grammar: 2,
    oversize: 1,
    unmapped: 1,
    'malformed-baggage': 1,
    conflict: 1,
    type: 2,
    unreadable: 1,
    total: 9,
  });
});

test('countInvalidTag publishes only while subscribed, with the value cut to 64 characters', (t) => {
  const messages: InvalidTagMessage[] = [];
  const onMessage = (message: unknown) => messages.push(message as InvalidTagMessage);
  countInvalidTag('header', 'x-mse-tag', 'grammar', 'before');
  diagnosticsChannel.subscribe('graylane:ingress:invalid-tag', onMessage);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:ingress:invalid-tag', onMessage));
  countInvalidTag('metadata', 'version', 'oversize', 'v'.repeat(1000));
  assert.deepEqual(messages, [
    { carrier: 'metadata', key: 'version', reason: 'oversize', value: 'v'.repeat(64) },
  ]);
});

test('a snapshot is a copy: later counts and resets do not change it', () => {
  resetIngressCounters();
  countIngress('gray');
  countInvalidTag('header', 'x-mse-tag', 'grammar', '!');
  const snapshot = ingressCounters();
  countIngress('gray');
  resetIngressCounters();
  assert.deepEqual(snapshot.requests, { gray: 1 });
  assert.equal(snapshot.invalidTags.total, 1);
  assert.deepEqual(ingressCounters(), {
    requests: {},
    invalidTags: {
      grammar: 0,
      oversize: 0,
      unmapped: 0,
      'malformed-baggage': 0,
      conflict: 0,
      type: 0,
      unreadable: 0,
      total: 0,
    },
  });
});

test('countIngress publishes { lane, carrier } on graylane:ingress:lane only while subscribed', (t) => {
  const messages: IngressLaneMessage[] = [];
  const onMessage = (message: unknown) => messages.push(message as IngressLaneMessage);
  countIngress('before');
  diagnosticsChannel.subscribe('graylane:ingress:lane', onMessage);
  t.after(() => diagnosticsChannel.unsubscribe('graylane:ingress:lane', onMessage));
  countIngress('gray');
  countIngress(undefined);
  countIngress('blue', 'metadata');
  assert.deepEqual(messages, [
    { lane: 'gray', carrier: 'header' },
    { lane: undefined, carrier: 'header' },
    { lane: 'blue', carrier: 'metadata' },
  ]);
});
