// The upstream of hop/server.mjs: a bare node:http server answering {"lane": <x-mse-tag>}.
import { createServer } from 'node:http';

process.on('disconnect', () => process.exit(0));

const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(`{"lane":${JSON.stringify(req.headers['x-mse-tag'] ?? null)}}`);
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: server.address().port }));
