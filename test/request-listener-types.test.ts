// laneRequestListener's types: what a user writes must compile without type arguments (this file
// is type-checked by `tsc -p tsconfig.test.json`, which `npm test` runs before any test), and the
// wrappers it returns are the listeners their servers take.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { test } from 'node:test';
import { laneRequestListener } from '@graylane/core';
import express5 from 'express';
import express4 from 'express4';

test('laneRequestListener takes an Express app, plain handlers and http2 handlers without type arguments', () => {
  const app5 = express5();
  const app4 = express4();
  // An Express app (5 and 4): its overloads would otherwise infer Express's Request/Response.
  const servers = [createServer(laneRequestListener(app5)), createServer(laneRequestListener(app4))];
  const listener: RequestListener = laneRequestListener(app5);
  const standalone: (req: IncomingMessage, res: ServerResponse) => void = laneRequestListener(app4);
  // A plain node:http handler: parameters typed by the default (IncomingMessage/ServerResponse).
  const plain = laneRequestListener((req, res) => {
    res.end(req.url);
  });
  servers.push(createServer(plain));
  // A handler returning a promise.
  servers.push(createServer(laneRequestListener(async (_req, res) => void res.end())));
  // node:http2's compatibility API: parameters typed by the server it is given to ...
  const h2 = createHttp2Server(laneRequestListener((req, res) => res.end(String(req.stream.id))));
  // ... or written out.
  const written = laneRequestListener((_req: Http2ServerRequest, res: Http2ServerResponse) => res.end());
  const h2Written = createHttp2Server(written);
  // @ts-expect-error a listener whose request is not a request does not fit
  laneRequestListener((req: number) => req);

  for (const wrapped of [listener, standalone, plain, written]) {
    assert.equal(typeof wrapped, 'function');
    assert.equal(wrapped.name, 'laneRequestListener');
  }
  for (const server of [...servers, h2, h2Written]) assert.equal(server.listening, false);
});
