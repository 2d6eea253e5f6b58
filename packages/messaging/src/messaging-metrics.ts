import * as diagnosticsChannel from 'node:diagnostics_channel';
import {
  assertKnownOptions,
  BASE_LANE_KEY,
  InvalidOptionError,
  type LaneMeter,
  MissingPeerError,
} from '@graylane/core';
import type * as OtelApi from '@opentelemetry/api';
import type { MessageConsumedMessage, MessageFallbackMessage } from './message-counters';

/**
 * Names of the OpenTelemetry counters {@link enableMessagingMetrics} creates. Invalid tags are
 * counted by core's `enableLaneObservability()` (`graylane.ingress.invalid_tags`, carrier `header`).
 *
 * | instrument | attributes | counts |
 * |---|---|---|
 * | `graylane.messaging.consumed` | `graylane.broker`, `graylane.lane`, `graylane.consumer_lane`, `graylane.failed` | messages handled |
 * | `graylane.messaging.fallbacks` | `graylane.broker`, `graylane.lane`, `graylane.served_lane` | lane messages another consumer lane served |
 *
 * @example
 * MESSAGING_METRICS.consumed; // 'graylane.messaging.consumed'
 */
export const MESSAGING_METRICS = Object.freeze({
  consumed: 'graylane.messaging.consumed',
  fallbacks: 'graylane.messaging.fallbacks',
});

/** Options of {@link enableMessagingMetrics}. */
export interface MessagingMetricsOptions {
  /**
   * Meter to create the counters on: an OpenTelemetry `Meter` (core's structural `LaneMeter`, so
   * these declarations compile without `@opentelemetry/api`). Default
   * `metrics.getMeter('@graylane/messaging')` (global provider, read once).
   */
  readonly meter?: LaneMeter | undefined;
}

const MESSAGING_METRICS_OPTION_KEYS: readonly string[] = Object.keys({
  meter: 1,
} satisfies Record<keyof MessagingMetricsOptions, 1>);

/** Handle returned by {@link enableMessagingMetrics}. */
export interface MessagingMetrics {
  /** Unsubscribes. Idempotent. */
  disable(): void;
}

const MAX_ATTRIBUTE_SETS = 1024;

/**
 * Records the message counters as OpenTelemetry metrics ({@link MESSAGING_METRICS}), from the
 * `graylane:messaging:*` channels. Enable after the SDK is set up.
 *
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` without `meter` when `@opentelemetry/api` is not installed.
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` for a `meter` that cannot create counters.
 * @example
 * const handle = enableMessagingMetrics();
 */
export function enableMessagingMetrics(options: MessagingMetricsOptions = {}): MessagingMetrics {
  assertKnownOptions('enableMessagingMetrics()', options, MESSAGING_METRICS_OPTION_KEYS);
  let meter: LaneMeter | undefined = options.meter;
  if (meter === undefined) {
    let api: typeof OtelApi;
    try {
      api = require('@opentelemetry/api') as typeof OtelApi;
    } catch (error) {
      throw new MissingPeerError('enableMessagingMetrics()', '@opentelemetry/api', { cause: error });
    }
    meter = api.metrics.getMeter('@graylane/messaging');
  }
  if (typeof meter?.createCounter !== 'function')
    throw new InvalidOptionError('meter', 'expected an OpenTelemetry Meter');
  const consumed = meter.createCounter(MESSAGING_METRICS.consumed, {
    description: 'Messages handled by graylane consumers, by message lane and consumer lane',
    unit: '{message}',
  });
  const fallbacks = meter.createCounter(MESSAGING_METRICS.fallbacks, {
    description: 'Lane messages served by another consumer lane (no live consumer of their lane)',
    unit: '{message}',
  });
  const sets = new Map<string, Readonly<Record<string, string>>>();
  const attributes = (key: string, build: () => Record<string, string>) => {
    let set = sets.get(key);
    if (set === undefined) {
      set = Object.freeze(build());
      if (sets.size < MAX_ATTRIBUTE_SETS) sets.set(key, set);
    }
    return set;
  };
  const onConsumed = (raw: unknown) => {
    const m = raw as MessageConsumedMessage;
    const lane = m.lane ?? BASE_LANE_KEY;
    const consumer = m.consumerLane ?? BASE_LANE_KEY;
    consumed.add(
      1,
      attributes(`c\0${m.broker}\0${lane}\0${consumer}\0${m.failed}`, () => ({
        'graylane.broker': m.broker,
        'graylane.lane': lane,
        'graylane.consumer_lane': consumer,
        'graylane.failed': String(m.failed),
      })),
    );
  };
  const onFallback = (raw: unknown) => {
    const m = raw as MessageFallbackMessage;
    const served = m.servedLane ?? BASE_LANE_KEY;
    fallbacks.add(
      1,
      attributes(`f\0${m.broker}\0${m.lane}\0${served}`, () => ({
        'graylane.broker': m.broker,
        'graylane.lane': m.lane,
        'graylane.served_lane': served,
      })),
    );
  };
  diagnosticsChannel.subscribe('graylane:messaging:consume', onConsumed);
  diagnosticsChannel.subscribe('graylane:messaging:fallback', onFallback);
  let enabled = true;
  return {
    disable() {
      if (!enabled) return;
      enabled = false;
      diagnosticsChannel.unsubscribe('graylane:messaging:consume', onConsumed);
      diagnosticsChannel.unsubscribe('graylane:messaging:fallback', onFallback);
    },
  };
}
