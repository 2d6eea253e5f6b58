// Heap bytes per request of the request/response `emit` binding (a diagnostic, not part of
// `npm run bench`; deterministic, no timing): 20,000 real IncomingMessage/ServerResponse pairs,
// heap used after binding all of them minus before, with a semi-space large enough that no GC runs
// in between. "closure" rebuilds the earlier form (a `laneEmit` closure per object over its
// previous `emit` and lane, what `prebindServerRequests` did before the shared `emit`), "shared" is
// core's `bindEmitterToLane` as built.
//   node --expose-gc --max-semi-space-size=512 hop/emit-alloc.mjs
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { graylane } from '../lib/graylane.mjs';

const { bindEmitterToLane, createLaneContext } = graylane('core');
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc --max-semi-space-size=512');
const context = createLaneContext('gray');
const PAIRS = 20_000;
const socket = new Socket();

function closureFor(emit, lane) {
  return function laneEmit(event) {
    // biome-ignore lint/complexity/noArguments: the earlier form forwarded `arguments` too.
    return lane === null || event === undefined ? emit.apply(this, arguments) : emit.apply(this, arguments);
  };
}

function measure(label, bindAll) {
  const objects = [];
  for (let i = 0; i < PAIRS; i++) {
    const req = new IncomingMessage(socket);
    objects.push(req, new ServerResponse(req));
  }
  globalThis.gc();
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  bindAll(objects);
  const bytes = process.memoryUsage().heapUsed - before;
  console.log(`${label.padEnd(8)} ${(bytes / PAIRS).toFixed(1)} bytes per request (req + res)`);
}

console.log(`node ${process.version}`);
for (let round = 0; round < 2; round++) {
  // Each form loops itself: one callback called per object showed ~80 B per pair even when it
  // did nothing.
  measure('none', () => {});
  measure('closure', (objects) => {
    for (const o of objects) if (!Object.hasOwn(o, 'emit')) o.emit = closureFor(o.emit, null);
  });
  measure('shared', (objects) => {
    for (const o of objects) bindEmitterToLane(o, context);
  });
}
