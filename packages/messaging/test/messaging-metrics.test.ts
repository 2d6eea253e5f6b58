import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  enableMessagingMetrics,
  MESSAGING_METRICS,
  messageLaneCounters,
  resetMessageLaneCounters,
} from '@graylane/messaging';
import { consumeLanes, laneStreamName, lanesKey, presenceKey } from '@graylane/messaging/redis-streams';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Redis } from 'ioredis';
import { brokerOrFail, uniqueName, waitFor } from './helpers';

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

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

test('message counters per lane, in diagnostics and as OpenTelemetry metrics', async (t) => {
  const redis = await brokerOrFail(
    'Redis',
    '127.0.0.1:6379',
    'redis-server --daemonize yes ...',
    async () => {
      const client = new Redis({
        host: '127.0.0.1',
        port: 6379,
        lazyConnect: true,
        retryStrategy: () => null,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
  );
  const stream = uniqueName('gl-metrics');
  await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
  t.after(async () => {
    await redis.del(stream, presenceKey(stream), lanesKey(stream), laneStreamName(stream, 'gray'));
    redis.disconnect();
  });
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = enableMessagingMetrics({ meter: provider.getMeter('test') });
  t.after(() => metrics.disable());
  resetMessageLaneCounters();

  let handled = 0;
  const base = await consumeLanes(
    redis,
    { stream, group: 'g', lane: null, livenessIntervalMs: 100 },
    async (entry) => {
      handled++;
      if (entry.fields.includes('fail')) throw new Error('handler failed');
    },
  );
  t.after(() => base.close());
  await redis.xadd(stream, '*', 'v', '1', 'x-mse-tag', 'gray'); // no gray consumer: falls back
  await redis.xadd(stream, '*', 'v', '2');
  await redis.xadd(stream, '*', 'v', 'fail');
  await redis.xadd(stream, '*', 'v', '3', 'x-mse-tag', 'a/b'); // invalid
  await waitFor(() => handled >= 4, 'four entries handled');

  assert.deepEqual(messageLaneCounters(), {
    consumed: { gray: 1, '(base)': 3 },
    fellBack: { gray: 1 },
    routed: {},
    invalidTags: { 'redis-streams': 1 },
  });
  assert.deepEqual(await counter(reader, MESSAGING_METRICS.consumed), {
    'graylane.broker=redis-streams,graylane.consumer_lane=(base),graylane.failed=false,graylane.lane=gray': 1,
    'graylane.broker=redis-streams,graylane.consumer_lane=(base),graylane.failed=false,graylane.lane=(base)': 2,
    'graylane.broker=redis-streams,graylane.consumer_lane=(base),graylane.failed=true,graylane.lane=(base)': 1,
  });
  assert.deepEqual(await counter(reader, MESSAGING_METRICS.fallbacks), {
    'graylane.broker=redis-streams,graylane.lane=gray,graylane.served_lane=(base)': 1,
  });
});

test('where OpenTelemetry is active, the span active when a handler starts gets graylane.lane', async (t) => {
  const redis = await brokerOrFail(
    'Redis',
    '127.0.0.1:6379',
    'redis-server --daemonize yes ...',
    async () => {
      const client = new Redis({
        host: '127.0.0.1',
        port: 6379,
        lazyConnect: true,
        retryStrategy: () => null,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    },
  );
  const stream = uniqueName('gl-span');
  await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
  t.after(async () => {
    await redis.del(stream, presenceKey(stream), lanesKey(stream));
    redis.disconnect();
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  t.after(() => {
    trace.disable();
    context.disable();
  });
  const tracer = trace.getTracer('test');
  let handled = 0;
  // Stands in for a consume span of an instrumentation: the consumer loop runs inside it.
  const span = tracer.startSpan('consume');
  const base = await context.with(trace.setSpan(context.active(), span), () =>
    consumeLanes(redis, { stream, group: 'g', lane: null, livenessIntervalMs: 100 }, () => {
      handled++;
    }),
  );
  t.after(() => base.close());
  await redis.xadd(stream, '*', 'v', '1', 'x-mse-tag', 'gray');
  await waitFor(() => handled >= 1, 'entry handled');
  span.end();
  const [finished] = exporter.getFinishedSpans();
  assert.equal(finished?.attributes['graylane.lane'], 'gray');
});
