// Every public options object rejects a key it does not know, at setup, with a typed
// GL_ERR_INVALID_OPTION naming the key and the closest valid one (issue 16, item 1). One case per
// options object: adding a factory means adding its case here.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertKnownOptions,
  closestKey,
  compileIngress,
  enableInstanceLane,
  enableLaneObservability,
  enableOpenTelemetryBridge,
  enablePropagation,
  InvalidOptionError,
  laneAxios,
  laneFromHeaders,
  laneInterceptor,
  laneRequestListener,
  mirrorLaneToClsNamespace,
  readInstanceLane,
} from '@graylane/core';
import {
  createDiscovery,
  drainAndClose,
  laneAxiosDiscovery,
  register,
  staticRegistry,
} from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
import { laneDispatcher } from '@graylane/discovery/undici';
import {
  diagnosticsReport,
  diagnosticsRouter,
  laneEdge,
  laneMiddleware,
  planAdminRouter,
} from '@graylane/express';
import { laneFastify, laneFastifyEdge } from '@graylane/fastify';
import { laneClientInterceptor, laneServerInterceptor, registerLaneChannel } from '@graylane/grpc';
import { laneKoa } from '@graylane/koa';
import { enableMessagingMetrics } from '@graylane/messaging';
import {
  consumeLanes as consumeAmqpLanes,
  createLanePublisher as createAmqpLanePublisher,
} from '@graylane/messaging/amqp';
import {
  consumeLanes as consumeBullLanes,
  createLanePublisher as createBullLanePublisher,
} from '@graylane/messaging/bullmq';
import {
  consumeLanes as consumeNatsLanes,
  createLanePublisher as createNatsLanePublisher,
} from '@graylane/messaging/nats';
import {
  consumeLanes as consumeStreamLanes,
  createLanePublisher as createStreamLanePublisher,
} from '@graylane/messaging/redis-streams';
import { LaneModule } from '@graylane/nestjs';
import {
  compileEdge,
  compileRules,
  fileRuleSource,
  liveRules,
  releasePlan,
  rulesFromAmbassadorMappings,
  rulesFromIstioVirtualService,
  rulesFromKruiseTrafficRouting,
  rulesFromNginxCanary,
  subsetLanesFromDestinationRule,
} from '@graylane/rules';
import { etcdPlanStore, etcdRuleSource } from '@graylane/rules/etcd';
import { kubernetesRuleSource } from '@graylane/rules/kubernetes';
import axios from 'axios';
import { createNamespace } from 'cls-hooked';
import { assertTypedError } from './helpers/typed-error';

const registry = staticRegistry({ env: false });
const discovery = createDiscovery({ registry });
const instance = { service: 'b', id: 'b-1', host: '127.0.0.1', port: 1 };

interface Case {
  /** The options object, as the report names it. */
  readonly options: string;
  /** Calls the factory with one misspelled key. */
  readonly call: () => unknown;
  readonly key: string;
  /** The valid key the error must suggest, or null when none is close. */
  readonly suggestion: string | null;
}

// biome-ignore lint/suspicious/noExplicitAny: the typo is the point; the types would refuse it
type Any = any;
const typo = (o: Record<string, unknown>): Any => o;
const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const CASES: readonly Case[] = [
  {
    options: 'LaneMiddlewareOptions',
    call: () => laneMiddleware(typo({ headr: 'x-lane' })),
    key: 'headr',
    suggestion: 'header',
  },
  {
    options: 'LaneEdgeOptions',
    call: () => laneEdge(typo({ rules: [], trusts: 'accept' })),
    key: 'trusts',
    suggestion: 'trust',
  },
  {
    options: 'EdgeOptions (compileEdge)',
    call: () => compileEdge(typo({ rules: [], ingres: {} })),
    key: 'ingres',
    suggestion: 'ingress',
  },
  {
    options: 'DiagnosticsRouterOptions',
    call: () => diagnosticsRouter(typo({ discovry: discovery })),
    key: 'discovry',
    suggestion: 'discovery',
  },
  {
    options: 'DiagnosticsReportOptions',
    call: () => diagnosticsReport(typo({ counter: false })),
    key: 'counter',
    suggestion: 'counters',
  },
  {
    options: 'PropagationOptions',
    call: () => enablePropagation(typo({ headr: 'x-lane' })),
    key: 'headr',
    suggestion: 'header',
  },
  {
    options: 'LaneInterceptorOptions',
    call: () => laneInterceptor(typo({ cary: false })),
    key: 'cary',
    suggestion: 'carry',
  },
  {
    options: 'LaneAxiosOptions',
    call: () => laneAxios(axios.create(), typo({ Header: 'x-lane' })),
    key: 'Header',
    suggestion: 'header',
  },
  {
    options: 'OpenTelemetryBridgeOptions',
    call: () => enableOpenTelemetryBridge(typo({ bagageKey: 'lane' })),
    key: 'bagageKey',
    suggestion: 'baggageKey',
  },
  {
    options: 'LaneObservabilityOptions',
    call: () => enableLaneObservability(typo({ loger: () => {} })),
    key: 'loger',
    suggestion: 'logger',
  },
  {
    options: 'ClsMirrorOptions',
    call: () => mirrorLaneToClsNamespace(createNamespace('unknown-options'), typo({ keys: 'lane' })),
    key: 'keys',
    suggestion: 'key',
  },
  {
    options: 'IngressOptions (compileIngress)',
    call: () => compileIngress(typo({ sources: [], baggage: false })),
    key: 'baggage',
    suggestion: 'baggageKey',
  },
  {
    options: 'IngressOptions (laneFromHeaders)',
    call: () => laneFromHeaders({}, typo({ carries: [] })),
    key: 'carries',
    suggestion: 'carry',
  },
  {
    options: 'DiscoveryOptions',
    call: () => createDiscovery(typo({ registry, fallbacks: { x: 'gray' } })),
    key: 'fallbacks',
    suggestion: 'fallback',
  },
  {
    options: 'StaticRegistryOptions',
    call: () => staticRegistry(typo({ env: false, instance: [instance] })),
    key: 'instance',
    suggestion: 'instances',
  },
  {
    options: 'EtcdRegistryOptions',
    call: () => etcdRegistry(typo({ endpoint: 'http://127.0.0.1:2379' })),
    key: 'endpoint',
    suggestion: 'endpoints',
  },
  {
    options: 'KubernetesRegistryOptions',
    call: () => kubernetesRegistry(typo({ service: { b: {} } })),
    key: 'service',
    suggestion: 'services',
  },
  {
    options: 'KubernetesServiceOptions',
    call: () => kubernetesRegistry(typo({ namespace: 'shop', services: { b: { prot: 'http' } } })),
    key: 'prot',
    suggestion: 'port',
  },
  {
    options: 'LaneDispatcherOptions',
    call: () => laneDispatcher(typo({ discovery, service: ['b'] })),
    key: 'service',
    suggestion: 'services',
  },
  {
    options: 'LaneAxiosDiscoveryOptions',
    call: () => laneAxiosDiscovery(axios.create(), typo({ discovery, hostheader: 'instance' })),
    key: 'hostheader',
    suggestion: 'hostHeader',
  },
  {
    options: 'LaneClientInterceptorOptions',
    call: () => laneClientInterceptor(typo({ metadatakey: 'x-lane' })),
    key: 'metadatakey',
    suggestion: 'metadataKey',
  },
  {
    options: 'LaneServerInterceptorOptions',
    call: () => laneServerInterceptor(typo({ header: 'x-lane', unrelated: 1 })),
    key: 'unrelated',
    suggestion: null,
  },
  {
    options: 'LaneChannelOptions',
    call: () => registerLaneChannel(typo({ discovery, schema: 'lanes' })),
    key: 'schema',
    suggestion: 'scheme',
  },
  {
    options: 'OutlierOptions (createDiscovery outlier)',
    call: () => createDiscovery(typo({ registry, outlier: { consecutiveFailure: 3 } })),
    key: 'outlier.consecutiveFailure',
    suggestion: 'consecutiveFailures',
  },
  {
    options: 'WarmupOptions (createDiscovery warmup)',
    call: () => createDiscovery(typo({ registry, warmup: { durationMs: 1000, minWeightPercnt: 5 } })),
    key: 'warmup.minWeightPercnt',
    suggestion: 'minWeightPercent',
  },
  {
    options: 'InstanceLaneOptions (enableInstanceLane)',
    call: () => enableInstanceLane(typo({ lanes: 'gray' })),
    key: 'lanes',
    suggestion: 'lane',
  },
  {
    options: 'InstanceLaneOptions (readInstanceLane)',
    call: () => readInstanceLane(typo({ labelFile: false })),
    key: 'labelFile',
    suggestion: 'labelsFile',
  },
  {
    options: 'IngressOptions (laneRequestListener)',
    call: () => laneRequestListener(() => {}, typo({ carries: [] })),
    key: 'carries',
    suggestion: 'carry',
  },
  {
    options: 'LaneSource (IngressOptions sources[0])',
    call: () => compileIngress(typo({ sources: [{ key: 'version', value: { '200': 'gray' } }] })),
    key: 'sources[0].value',
    suggestion: 'values',
  },
  {
    options: 'DiagnosticsLiveOptions (diagnosticsReport live)',
    call: () => diagnosticsReport(typo({ live: { plan: [] } })),
    key: 'live.plan',
    suggestion: 'plans',
  },
  {
    options: 'PlanAdminRouterOptions',
    call: () => planAdminRouter(typo({ plans: [], token: 'secret', tokens: 'x' })),
    key: 'tokens',
    suggestion: 'token',
  },
  {
    options: 'CompileRulesOptions',
    call: () => compileRules([], typo({ maxInputLenght: 10 })),
    key: 'maxInputLenght',
    suggestion: 'maxInputLength',
  },
  {
    options: 'LiveRulesOptions',
    call: () => liveRules(typo({ rule: [] })),
    key: 'rule',
    suggestion: 'rules',
  },
  {
    options: 'FileRuleSourceOptions',
    call: () => fileRuleSource(typo({ path: 'rules.yaml', debounce: 10 })),
    key: 'debounce',
    suggestion: 'debounceMs',
  },
  {
    options: 'EtcdRuleSourceOptions',
    call: () => etcdRuleSource(typo({ endpoints: 'http://127.0.0.1:1', key: 'rules', formats: 'json' })),
    key: 'formats',
    suggestion: 'format',
  },
  {
    options: 'EtcdPlanStoreOptions',
    call: () => etcdPlanStore(typo({ endpoints: 'http://127.0.0.1:1', prefx: '/plans/' })),
    key: 'prefx',
    suggestion: 'prefix',
  },
  {
    options: 'KubernetesRuleSourceOptions',
    call: () => kubernetesRuleSource(typo({ kind: 'ConfigMap', name: 'rules', namespce: 'shop' })),
    key: 'namespce',
    suggestion: 'namespace',
  },
  {
    options: 'ReleasePlanOptions',
    call: () => releasePlan(typo({ name: 'p', lane: 'gray', steps: [], tickInterval: 1 })),
    key: 'tickInterval',
    suggestion: 'tickIntervalMs',
  },
  {
    options: 'NginxCanaryOptions',
    call: () => rulesFromNginxCanary({}, typo({ lane: 'canary', prefx: 'nginx' })),
    key: 'prefx',
    suggestion: 'prefix',
  },
  {
    options: 'IstioVirtualServiceOptions',
    call: () => rulesFromIstioVirtualService({}, typo({ subsetLanes: {}, ignoreUnsuported: true })),
    key: 'ignoreUnsuported',
    suggestion: 'ignoreUnsupported',
  },
  {
    options: 'KruiseTrafficRoutingOptions',
    call: () => rulesFromKruiseTrafficRouting({}, typo({ laneheader: 'x-lane' })),
    key: 'laneheader',
    suggestion: 'laneHeader',
  },
  {
    options: 'AmbassadorMappingsOptions',
    call: () => rulesFromAmbassadorMappings([], typo({ laneOf: () => undefined, stiky: 'cookie' })),
    key: 'stiky',
    suggestion: 'sticky',
  },
  {
    options: 'SubsetLanesOptions',
    call: () => subsetLanesFromDestinationRule({}, typo({ laneLabel: [] })),
    key: 'laneLabel',
    suggestion: 'laneLabels',
  },
  {
    options: 'LaneFastifyOptions',
    call: () => laneFastify(typo({ headr: 'x-lane' })),
    key: 'headr',
    suggestion: 'header',
  },
  {
    options: 'LaneFastifyEdgeOptions',
    call: () => laneFastifyEdge(typo({ rules: [], trusts: 'accept' })),
    key: 'trusts',
    suggestion: 'trust',
  },
  {
    options: 'LaneKoaOptions',
    call: () => laneKoa(typo({ cary: ['x-user'] })),
    key: 'cary',
    suggestion: 'carry',
  },
  {
    options: 'LaneModuleOptions (LaneModule.forRoot)',
    call: () => LaneModule.forRoot(typo({ baggagekey: 'lane' })),
    key: 'baggagekey',
    suggestion: 'baggageKey',
  },
  {
    options: 'MessagingMetricsOptions',
    call: () => enableMessagingMetrics(typo({ meters: {} })),
    key: 'meters',
    suggestion: 'meter',
  },
];

for (const c of CASES) {
  test(`${c.options} rejects an unknown key (${c.key})`, () => {
    assertTypedError(c.call, InvalidOptionError, {
      code: 'GL_ERR_INVALID_OPTION',
      path: c.key,
      message:
        c.suggestion === null
          ? new RegExp(`no option "${literal(c.key)}"; valid options: `)
          : new RegExp(`no option "${literal(c.key)}" \\(did you mean "${c.suggestion}"\\?\\)`),
    });
  });
}

test('register() rejects an unknown key', async () => {
  await assert.rejects(register(registry, typo({ service: 'b', port: 1, lanes: 'gray' })), (err: unknown) => {
    assert.ok(err instanceof InvalidOptionError);
    assert.equal(err.code, 'GL_ERR_INVALID_OPTION');
    assert.equal(err.path, 'lanes');
    assert.match(err.message, /register\(\) has no option "lanes" \(did you mean "lane"\?\)/);
    return true;
  });
});

// Options objects of functions that answer with a promise: the typo is a rejection, before any I/O
// (the connections below are never touched).
const ASYNC_CASES: ReadonlyArray<Omit<Case, 'call'> & { readonly call: () => Promise<unknown> }> = [
  {
    options: 'AmqpLaneConsumerOptions',
    call: () => consumeAmqpLanes(typo({}), typo({ queue: 'orders', prefech: 10 }), () => {}),
    key: 'prefech',
    suggestion: 'prefetch',
  },
  {
    options: 'NatsLaneConsumerOptions',
    call: () => consumeNatsLanes(typo({}), typo({ stream: 'S', durable: 'd', ackWait: 1 }), () => {}),
    key: 'ackWait',
    suggestion: 'ackWaitMs',
  },
  {
    options: 'BullLaneConsumerOptions',
    call: () => consumeBullLanes(typo({ queue: 'jobs', connection: {}, concurency: 2 }), () => {}),
    key: 'concurency',
    suggestion: 'concurrency',
  },
  {
    options: 'StreamLaneConsumerOptions',
    call: () => consumeStreamLanes(typo({}), typo({ stream: 's', group: 'g', fallbacks: {} }), () => {}),
    key: 'fallbacks',
    suggestion: 'fallback',
  },
  {
    options: 'AmqpLanePublisherOptions',
    call: () => createAmqpLanePublisher(typo({}), typo({ queue: 'orders', livenesIntervalMs: 100 })),
    key: 'livenesIntervalMs',
    suggestion: 'livenessIntervalMs',
  },
  {
    options: 'StreamLanePublisherOptions',
    call: () => createStreamLanePublisher(typo({}), typo({ stream: 's', lane: ['gray'] })),
    key: 'lane',
    suggestion: 'lanes',
  },
  {
    options: 'NatsLanePublisherOptions',
    call: () => createNatsLanePublisher(typo({}), typo({ stream: 'S', livenessInterval: 100 })),
    key: 'livenessInterval',
    suggestion: 'livenessIntervalMs',
  },
  {
    options: 'BullLanePublisherOptions',
    call: () => createBullLanePublisher(typo({ queue: 'jobs', connection: {}, headers: 'x' })),
    key: 'headers',
    suggestion: 'header',
  },
  {
    options: 'DrainOptions',
    call: () => drainAndClose({ close: async () => {} }, typo({ drainMS: 0 })),
    key: 'drainMS',
    suggestion: 'drainMs',
  },
  {
    options: 'RegisterOptions (drain keys)',
    call: () => register(registry, typo({ service: 'b', port: 1, closeTimeout: 1 })),
    key: 'closeTimeout',
    suggestion: 'closeTimeoutMs',
  },
  {
    options: 'ReadyOptions (discovery.ready)',
    call: () => discovery.ready('b', typo({ timeout: 1 })),
    key: 'timeout',
    suggestion: 'timeoutMs',
  },
];

for (const c of ASYNC_CASES) {
  test(`${c.options} rejects an unknown key (${c.key})`, async () => {
    await assert.rejects(c.call(), (err: unknown) => {
      assert.ok(err instanceof InvalidOptionError, String(err));
      assert.equal(err.code, 'GL_ERR_INVALID_OPTION');
      assert.equal(err.path, c.key);
      assert.match(
        err.message,
        new RegExp(`no option "${literal(c.key)}" \\(did you mean "${c.suggestion}"\\?\\)`),
      );
      return true;
    });
  });
}

test('a misspelled key is rejected even when its value is undefined; valid keys may be undefined', () => {
  assert.throws(() => laneMiddleware(typo({ headr: undefined })), { code: 'GL_ERR_INVALID_OPTION' });
  assert.equal(typeof laneMiddleware({ header: undefined, carry: undefined }), 'function');
});

test('assertKnownOptions names the closest key only when it is close', () => {
  assert.equal(closestKey('fallbacks', ['registry', 'fallback']), 'fallback');
  assert.equal(closestKey('METADATAKEY', ['metadataKey', 'carry']), 'metadataKey');
  assert.equal(closestKey('zzzzzz', ['header', 'carry']), undefined);
  assert.equal(closestKey('x', ['y']), undefined, 'one letter is not a typo of another letter');
  assert.doesNotThrow(() => assertKnownOptions('f()', { a: 1 }, ['a', 'b']));
  assert.doesNotThrow(() => assertKnownOptions('f()', undefined, ['a']));
  assert.throws(
    () => assertKnownOptions('f()', Object.assign(Object.create({ b: 1 }), { c: 1 }), ['a', 'b']),
    {
      code: 'GL_ERR_INVALID_OPTION',
      message: /f\(\) has no option "c"/,
    },
  );
});

test.after(async () => {
  discovery.close();
  await registry.close();
});
