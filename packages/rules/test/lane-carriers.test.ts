// Every carrier of the lane says the lane the edge decided, or nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidOptionError } from '@graylane/core';
import {
  type CarrierMessage,
  compileLaneCarriers,
  rewriteBaggage,
  setLaneCarriers,
  settleLaneCarriers,
} from '@graylane/rules';

const defaults = compileLaneCarriers();

test('the lane header and the baggage entry say the decided lane; other members stay as sent', () => {
  const headers: Record<string, string | string[] | undefined> = {
    'x-mse-tag': 'gray',
    baggage: 'userId=1,x-mse-tag=feature-x',
    accept: '*/*',
  };
  assert.equal(setLaneCarriers(headers, 'gray', defaults), true, 'the baggage entry said something else');
  assert.deepEqual(headers, { 'x-mse-tag': 'gray', baggage: 'userId=1,x-mse-tag=gray', accept: '*/*' });
  const base: Record<string, string> = {
    'x-mse-tag': 'gray',
    baggage: 'userId=1, x-mse-tag=gray;prop=1 ,other=2',
  };
  assert.equal(setLaneCarriers(base, undefined, defaults), true);
  assert.deepEqual(base, { baggage: 'userId=1,other=2' }, 'the base lane: no carrier at all');
  const onlyLane: Record<string, string> = { baggage: 'x-mse-tag=gray' };
  setLaneCarriers(onlyLane, undefined, defaults);
  assert.deepEqual(onlyLane, {}, 'an emptied baggage header is removed');
  const untouched: Record<string, string> = { baggage: 'x-mse-tagged=1', other: 'x' };
  assert.equal(setLaneCarriers(untouched, 'gray', defaults), false, 'a decided lane where nothing was sent');
  assert.deepEqual(untouched, { baggage: 'x-mse-tagged=1', other: 'x', 'x-mse-tag': 'gray' });
});

test('baggage members any parser could read as the lane are rewritten: case, whitespace, escapes, duplicates', () => {
  const smuggled = [
    'x-mse-tag=feature-x',
    'X-MSE-TAG=feature-x',
    ' \t x-mse-tag \t = feature-x',
    '\u00a0x-mse-tag=feature-x',
    '\ufeffx-mse-tag=feature-x',
    'x%2Dmse-tag=feature-x',
    'x-mse-tag=feature-x;prop=1',
    'x-mse-tag;prop=1',
    'x-mse-tag',
    'x-mse-tag=gray,x-mse-tag=feature-x',
  ];
  for (const member of smuggled) {
    assert.equal(rewriteBaggage(`a=1,${member},b=2`, 'gray', defaults), 'a=1,b=2,x-mse-tag=gray', member);
    assert.equal(rewriteBaggage(`a=1,${member},b=2`, undefined, defaults), 'a=1,b=2', member);
  }
  const text = 'a=1, b=%20x ;p,,c';
  assert.equal(rewriteBaggage(text, 'gray', defaults), text, 'no lane member: the same string back');
  // Array-valued headers (headersDistinct) and two baggage headers joined by Node.
  const distinct: Record<string, string[]> = {
    baggage: ['a=1', 'x-mse-tag=feature-x'],
    'x-mse-tag': ['x', 'y'],
  };
  setLaneCarriers(distinct, 'gray', defaults);
  assert.deepEqual(distinct, { baggage: ['a=1,x-mse-tag=gray'], 'x-mse-tag': ['gray'] });
});

test('sources and value maps: each alias says the lane in its own spelling, or goes', () => {
  const carriers = compileLaneCarriers({
    sources: ['x-mse-tag', 'x-lane', { key: 'version', values: { '200': 'gray', '201': 'gray' } }],
    baggageKey: 'lane',
  });
  const headers: Record<string, string> = {
    'x-mse-tag': 'gray',
    'x-lane': 'feature-x',
    version: '100',
    baggage: 'lane=feature-x,x-mse-tag=feature-x,k=v',
  };
  setLaneCarriers(headers, 'gray', carriers);
  assert.deepEqual(headers, {
    'x-mse-tag': 'gray',
    'x-lane': 'gray',
    version: '200',
    baggage: 'k=v,lane=gray,x-mse-tag=gray',
  });
  setLaneCarriers(headers, 'blue', carriers);
  assert.equal(headers.version, undefined, 'no value says blue: the mapped header goes');
  assert.equal(headers['x-lane'], 'blue');
  assert.throws(
    () => compileLaneCarriers({ sources: [{ key: 'x-mse-tag', values: { '1': 'gray' } }] }),
    InvalidOptionError,
  );
});

function message(
  raw: string[],
  extra: Partial<CarrierMessage> = {},
): CarrierMessage & Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    headers[name] = headers[name] === undefined ? raw[i + 1]! : `${headers[name]}, ${raw[i + 1]}`;
  }
  return { headers, rawHeaders: raw, ...extra };
}

test('raw headers: duplicates and case variants of a carrier are replaced by the decided lane', () => {
  const req = message([
    'Host',
    'h',
    'X-MSE-TAG',
    'gray',
    'x-mse-tag',
    'feature-x',
    'Baggage',
    'a=1,X-Mse-Tag=feature-x',
  ]);
  assert.equal(settleLaneCarriers(req, 'gray', defaults), true);
  assert.deepEqual(req.rawHeaders, ['Host', 'h', 'Baggage', 'a=1,x-mse-tag=gray', 'x-mse-tag', 'gray']);
  assert.deepEqual(req.headers, { host: 'h', 'x-mse-tag': 'gray', baggage: 'a=1,x-mse-tag=gray' });
  const base = message(['Host', 'h', 'x-mse-tag', 'feature-x']);
  settleLaneCarriers(base, undefined, defaults);
  assert.deepEqual(base.rawHeaders, ['Host', 'h']);
  const clean = message(['Host', 'h']);
  assert.equal(settleLaneCarriers(clean, 'gray', defaults), false);
  assert.deepEqual(clean.rawHeaders, ['Host', 'h'], 'nothing sent: the raw list is left alone');
});

test('trailers: a lane carrier is removed when the body ends, or at once when the message is complete', () => {
  const listeners: Array<() => void> = [];
  const pending = {
    ...message(['Host', 'h', 'Transfer-Encoding', 'chunked']),
    httpVersionMajor: 1,
    complete: false,
    rawTrailers: [] as string[],
    once(event: 'end', listener: () => void) {
      assert.equal(event, 'end');
      listeners.push(listener);
      return this;
    },
  };
  settleLaneCarriers(pending, 'gray', defaults);
  assert.equal(listeners.length, 1, 'one end listener, only because trailers may come');
  pending.rawTrailers.push('X-Mse-Tag', 'feature-x', 'baggage', 'a=1,x-mse-tag=feature-x', 'x-other', 'v');
  listeners[0]!.call(pending);
  assert.deepEqual(pending.rawTrailers, ['baggage', 'a=1', 'x-other', 'v']);

  const complete = {
    ...message(['Host', 'h', 'Transfer-Encoding', 'chunked']),
    complete: true,
    rawTrailers: ['x-mse-tag', 'feature-x'],
    trailers: { 'x-mse-tag': 'feature-x' } as Record<string, string>,
  };
  settleLaneCarriers(complete, undefined, defaults);
  assert.deepEqual(complete.rawTrailers, []);
  assert.deepEqual(complete.trailers, {});

  let asked = false;
  const plain = {
    ...message(['Host', 'h', 'Content-Length', '3']),
    once() {
      asked = true;
      return this;
    },
  };
  settleLaneCarriers(plain, 'gray', defaults);
  assert.equal(asked, false, 'no listener on a request that cannot carry trailers');
});
