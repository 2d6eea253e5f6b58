// Every public options object rejects a key it does not know, at setup, with a typed
// GL_ERR_INVALID_OPTION naming the key and the closest valid one (issue 16, item 1). One case per
// options object: adding a factory means adding its case here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertKnownOptions,
  closestKey,
  compileIngress,
  enableLaneObservability,
  enableOpenTelemetryBridge,
  enablePropagation,
  InvalidOptionError,
  laneAxios,
  laneFromHeaders,
  laneInterceptor,
  mirrorLaneToClsNamespace,
} from '@graylane/core';
import { createDiscovery, laneAxiosDiscovery, register, staticRegistry } from '@graylane/discovery';
import { etcdRegistry } from '@graylane/discovery/etcd';
import { kubernetesRegistry } from '@graylane/discovery/kubernetes';
import { laneDispatcher } from '@graylane/discovery/undici';
import { diagnosticsReport, diagnosticsRouter, laneEdge, laneMiddleware } from '@graylane/express';
import { laneClientInterceptor, laneServerInterceptor, registerLaneChannel } from '@graylane/grpc';
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
];

for (const c of CASES) {
  test(`${c.options} rejects an unknown key (${c.key})`, () => {
    assertTypedError(c.call, InvalidOptionError, {
      code: 'GL_ERR_INVALID_OPTION',
      path: c.key,
      message:
        c.suggestion === null
          ? new RegExp(`no option "${c.key}"; valid options: `)
          : new RegExp(`no option "${c.key}" \\(did you mean "${c.suggestion}"\\?\\)`),
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
