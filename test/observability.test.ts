// enableLaneObservability(): the lane lands on the span active at ingress, fallbacks / invalid
// tags / requests per lane land in OpenTelemetry counters (a real SDK: sdk-trace-base and
// sdk-metrics 2.x), and notable events reach a pluggable logger — all by subscribing to core's
// diagnostics channels, with the adapters unchanged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type TestContext, test } from 'node:test';
import {
  enableLaneObservability,
  LANE_METRICS,
  type LaneLogRecord,
  resetIngressCounters,
} from '@graylane/core';
import { createDiscovery, type Discovery, staticRegistry } from '@graylane/discovery';
import { laneEdge, laneMiddleware } from '@graylane/express';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { hideModule } from './helpers/hidden-module';
import { listen } from './helpers/listen';

const root = new URL('..', `file://${__filename}`).pathname;

/** A pull reader: `collect()` on demand, nothing periodic. */
class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** Sum data points of one counter, as `{ 'attr=value,...': sum }`. */
async function counter(reader: TestReader, name: string): Promise<Record<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const out: Record<string, number> = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints as DataPoint<number>[]) {
        const key = Object.entries(point.attributes)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(',');
        out[key] = (out[key] ?? 0) + point.value;
      }
    }
  }
  return out;
}

const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
trace.setGlobalTracerProvider(tracerProvider);
const tracer = trace.getTracer('observability-test');

/**
 * Starts a server whose request listener opens an active server span around the app, as
 * OpenTelemetry's HTTP instrumentation does.
 */
async function tracedServer(
  app: (req: IncomingMessage, res: ServerResponse) => void,
  t: TestContext,
): Promise<string> {
  const server = createServer((req, res) => {
    tracer.startActiveSpan(`${req.method} ${req.headers['x-case'] ?? ''}`, (span) => {
      res.on('finish', () => span.end());
      app(req, res);
    });
  });
  return `http://127.0.0.1:${await listen(server, t)}/`;
}

/** An Express app that runs `lane` (default: `laneMiddleware()`) and answers `ok` on `/`. */
function okApp(lane: express.RequestHandler = laneMiddleware()): express.Express {
  const app = express();
  app.use(lane);
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  return app;
}

/**
 * A discovery, ready, over svc-b (one base instance: gray picks fall back to it) and svc-c (one
 * gray instance: base picks find none). Closed in `t.after`.
 */
async function fallbackDiscovery(t: TestContext): Promise<Discovery> {
  const registry = staticRegistry({
    env: false,
    instances: [
      { service: 'svc-b', id: 'b-stable', host: '127.0.0.1', port: 1 },
      {
        service: 'svc-c',
        id: 'c-gray',
        host: '127.0.0.1',
        port: 2,
        labels: { 'alicloud.service.tag': 'gray' },
      },
    ],
  });
  const discovery = createDiscovery({ registry });
  t.after(async () => {
    discovery.close();
    await registry.close();
  });
  await discovery.ready('svc-b');
  await discovery.ready('svc-c');
  return discovery;
}

function spanNamed(name: string): ReadableSpan {
  const span = spans.getFinishedSpans().find((s) => s.name === name);
  assert.ok(span, `span ${name} exported`);
  return span;
}

async function get(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

test('the span active at ingress gets graylane.lane; base requests get none; disable() stops it', async (t) => {
  spans.reset();
  const observability = enableLaneObservability({ metrics: false });
  t.after(() => observability.disable());
  const url = await tracedServer(okApp(), t);

  assert.equal(await get(url, { 'x-case': 'gray', 'x-mse-tag': 'gray' }), 200);
  assert.equal(await get(url, { 'x-case': 'baggage', baggage: 'x-mse-tag=blue' }), 200);
  assert.equal(await get(url, { 'x-case': 'base' }), 200);
  assert.equal(await get(url, { 'x-case': 'invalid', 'x-mse-tag': '-bad' }), 200);
  observability.disable();
  assert.equal(await get(url, { 'x-case': 'after-disable', 'x-mse-tag': 'gray' }), 200);

  assert.equal(spanNamed('GET gray').attributes['graylane.lane'], 'gray');
  assert.equal(spanNamed('GET baggage').attributes['graylane.lane'], 'blue');
  assert.equal(spanNamed('GET base').attributes['graylane.lane'], undefined);
  assert.equal(spanNamed('GET invalid').attributes['graylane.lane'], undefined);
  assert.equal(spanNamed('GET after-disable').attributes['graylane.lane'], undefined);
});

test('at an edge the span gets the lane the rules decided, under a configurable attribute name', async (t) => {
  spans.reset();
  const observability = enableLaneObservability({ metrics: false, spanAttribute: 'app.lane' });
  t.after(() => observability.disable());
  const edge = laneEdge({
    rules: [{ lane: 'gray', matches: [{ headers: [{ name: 'User-Agent', value: 'foo' }] }] }],
  });
  const url = await tracedServer(okApp(edge), t);
  assert.equal(await get(url, { 'x-case': 'rule', 'user-agent': 'foo' }), 200);
  assert.equal(await get(url, { 'x-case': 'stripped', 'x-mse-tag': 'gray' }), 200);
  assert.equal(spanNamed('GET rule').attributes['app.lane'], 'gray');
  assert.equal(spanNamed('GET rule').attributes['graylane.lane'], undefined);
  assert.equal(spanNamed('GET stripped').attributes['app.lane'], undefined, 'the edge strips client tags');
});

test('requests per lane, invalid tags, fallbacks and no-instance calls are OpenTelemetry counters', async (t) => {
  resetIngressCounters();
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  t.after(() => meterProvider.shutdown());
  const observability = enableLaneObservability({
    meter: meterProvider.getMeter('test'),
    spanAttribute: false,
  });
  t.after(() => observability.disable());

  const url = await tracedServer(okApp(), t);
  const sequence: Record<string, string>[] = [
    { 'x-mse-tag': 'gray' },
    { 'x-mse-tag': 'gray' },
    {},
    { 'x-mse-tag': '-bad' },
  ];
  for (const headers of sequence) {
    assert.equal(await get(url, headers), 200);
  }

  const discovery = await fallbackDiscovery(t);
  assert.equal(discovery.pick('svc-b', 'gray').id, 'b-stable'); // fallback gray -> base
  assert.equal(discovery.pick('svc-b', 'gray').id, 'b-stable');
  assert.equal(discovery.pick('svc-b', null).id, 'b-stable'); // no fallback
  assert.equal(discovery.pick('svc-c', 'gray').id, 'c-gray'); // no fallback
  assert.throws(() => discovery.pick('svc-c', null), { code: 'GL_ERR_NO_INSTANCE' });

  assert.deepEqual(await counter(reader, LANE_METRICS.requests), {
    'graylane.carrier=header,graylane.lane=gray': 2,
    'graylane.carrier=header,graylane.lane=(base)': 2, // the untagged request and the invalid tag
  });
  assert.deepEqual(await counter(reader, LANE_METRICS.invalidTags), {
    'graylane.carrier=header,graylane.key=x-mse-tag,graylane.reason=grammar': 1,
  });
  assert.deepEqual(await counter(reader, LANE_METRICS.fallbacks), {
    'graylane.lane=gray,graylane.served_lane=(base),graylane.service=svc-b': 2,
  });
  assert.deepEqual(await counter(reader, LANE_METRICS.noInstance), {
    'graylane.lane=(base),graylane.service=svc-c': 1,
  });

  observability.disable();
  assert.equal(await get(url, { 'x-mse-tag': 'gray' }), 200);
  assert.equal(discovery.pick('svc-b', 'gray').id, 'b-stable');
  assert.equal(
    (await counter(reader, LANE_METRICS.requests))['graylane.carrier=header,graylane.lane=gray'],
    2,
    'nothing recorded after disable()',
  );
  assert.equal(
    (await counter(reader, LANE_METRICS.fallbacks))[
      'graylane.lane=gray,graylane.served_lane=(base),graylane.service=svc-b'
    ],
    2,
  );
});

test('without a meter option the global meter provider is used', async (t) => {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  assert.ok(metrics.setGlobalMeterProvider(meterProvider));
  t.after(async () => {
    metrics.disable();
    await meterProvider.shutdown();
  });
  const observability = enableLaneObservability({ spanAttribute: false });
  t.after(() => observability.disable());
  const url = await tracedServer(okApp(), t);
  assert.equal(await get(url, { 'x-mse-tag': 'feature-x' }), 200);
  assert.deepEqual(await counter(reader, LANE_METRICS.requests), {
    'graylane.carrier=header,graylane.lane=feature-x': 1,
  });
});

test('the logger hook gets fallbacks, invalid tags and no-instance calls; a throwing logger breaks nothing', async (t) => {
  const records: LaneLogRecord[] = [];
  const observability = enableLaneObservability({
    metrics: false,
    spanAttribute: false,
    logger: (record) => {
      records.push(record);
      throw new Error('a broken logger');
    },
  });
  t.after(() => observability.disable());
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));

  const url = await tracedServer(okApp(), t);
  assert.equal(await get(url, { 'x-mse-tag': 'x'.repeat(80) }), 200);
  assert.equal(await get(url, { 'x-mse-tag': 'gray' }), 200, 'lanes alone are not logged');

  const discovery = await fallbackDiscovery(t);
  discovery.pick('svc-b', 'gray');
  assert.throws(() => discovery.pick('svc-c', null), { code: 'GL_ERR_NO_INSTANCE' });
  await new Promise((resolve) => setImmediate(resolve));

  assert.deepEqual(
    records.map((r) => [r.level, r.event]),
    [
      ['warn', 'invalid-tag'],
      ['debug', 'fallback'],
      ['warn', 'no-instance'],
    ],
  );
  assert.equal(records[0]!.attributes['graylane.reason'], 'oversize');
  assert.equal(records[0]!.attributes['graylane.value'], 'x'.repeat(64), 'the value is cut to 64 characters');
  assert.deepEqual(records[1]!.attributes, {
    'graylane.service': 'svc-b',
    'graylane.lane': 'gray',
    'graylane.served_lane': '(base)',
  });
  assert.match(records[1]!.message, /svc-b: no gray instance, served by \(base\)/);
  assert.deepEqual(uncaught, []);
});

test('bad options are typed errors at setup', () => {
  assert.throws(() => enableLaneObservability({ spanAttribute: '' }), { code: 'GL_ERR_INVALID_OPTION' });
  assert.throws(() => enableLaneObservability({ metrics: 'yes' as unknown as boolean }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
  assert.throws(() => enableLaneObservability({ logger: 'console' as unknown as () => void }), {
    code: 'GL_ERR_INVALID_OPTION',
  });
  assert.throws(() => enableLaneObservability({ meter: {} as never }), { code: 'GL_ERR_INVALID_OPTION' });
});

test('a logger-only registration never loads @opentelemetry/api; traces or metrics need it (GL_ERR_MISSING_PEER)', () => {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `
      ${hideModule('@opentelemetry/api')}
      const core = require('@graylane/core');
      const seen = [];
      const o = core.enableLaneObservability({ metrics: false, spanAttribute: false, logger: (r) => seen.push(r.event) });
      core.laneFromHeaders({ 'x-mse-tag': '-bad' });
      o.disable();
      let code = null;
      try { core.enableLaneObservability(); } catch (e) { code = e.code; }
      const loaded = Object.keys(require.cache).filter((p) => p.includes('@opentelemetry'));
      console.log(JSON.stringify({ seen, code, loaded }));
    `,
    ],
    { cwd: root, encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { seen: ['invalid-tag'], code: 'GL_ERR_MISSING_PEER', loaded: [] });
});
