import { currentLane } from '@graylane/core';
import { register } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import { laneMiddleware } from '@graylane/express';
import express from 'express';

const registry = etcdRegistry({ endpoints: process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379' });
const port = Number(process.env.PORT ?? 8080);

const app = express().use(laneMiddleware());
app.get('/stock', (_req, res) =>
  res.json({ instance: process.env.GRAYLANE_LANE || 'stable', lane: currentLane() ?? 'base' }),
);
// Registers on a lease with keep-alive, labelled with $GRAYLANE_LANE; SIGTERM deregisters at once.
// Callers find it with createDiscovery({ registry: etcdRegistry({ endpoints }) }), as in the static example.
app.listen(port, () => register(registry, { service: 'inventory', port, closeOnSignals: true }));
