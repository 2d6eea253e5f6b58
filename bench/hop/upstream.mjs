// The upstream of hop/server.mjs: a bare node:http server answering {"lane": <x-mse-tag>}. It
// counts the requests it received per lane (`''` for none), so the driver can check that every
// variant delivered the lane on every request of a window.
// IPC: {type:'lanes', id} -> {type:'lanes', id, counts: {lane: requests}}.
import { createServer } from 'node:http';

process.on('disconnect', () => process.exit(0));

const counts = new Map();

const server = createServer((req, res) => {
  const lane = req.headers['x-mse-tag'];
  const key = lane ?? '';
  counts.set(key, (counts.get(key) ?? 0) + 1);
  res.setHeader('content-type', 'application/json');
  res.end(`{"lane":${JSON.stringify(lane ?? null)}}`);
});
server.keepAliveTimeout = 120_000;
process.on('message', (message) => {
  if (message.type === 'lanes')
    process.send?.({ type: 'lanes', id: message.id, counts: Object.fromEntries(counts) });
});
server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: server.address().port }));
