import { enablePropagation } from '@graylane/core';
import { laneEdge } from '@graylane/express';
import express from 'express';

enablePropagation(); // the proxy's fetch below carries the lane laneEdge assigns
const app = express();
app.use(
  laneEdge({
    rules: [
      { lane: 'gray', matches: [{ headers: [{ name: 'User-Agent', value: 'foo' }] }] }, // testers
      { lane: 'gray', weight: 10, sticky: { header: 'x-user-id' } }, // 10% of users, always the same ones
    ],
    trust: { allowlist: ['gray'] }, // keep a client's own x-mse-tag: gray, strip any other tag
  }),
);
app.use(async (req, res) => {
  const upstream = await fetch(`${process.env.CHECKOUT_URL}${req.url}`);
  res.status(upstream.status).json(await upstream.json());
});
app.listen(Number(process.env.PORT ?? 8080));
