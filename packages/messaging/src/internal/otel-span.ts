import { LANE_SPAN_ATTRIBUTE, type Lane } from '@graylane/core';
import type * as OtelApi from '@opentelemetry/api';

// `@opentelemetry/api` is an optional peer: loaded on the first tagged message, never at import.
let api: typeof OtelApi | null | undefined;

/** Sets `graylane.lane` on the active span (the consume span of an OpenTelemetry instrumentation), if any. */
export function markActiveSpan(lane: Lane): void {
  if (api === undefined) {
    try {
      api = require('@opentelemetry/api') as typeof OtelApi;
    } catch {
      api = null;
    }
  }
  if (api === null) return;
  const span = api.trace.getActiveSpan();
  if (span !== undefined) span.setAttribute(LANE_SPAN_ATTRIBUTE, lane);
}
