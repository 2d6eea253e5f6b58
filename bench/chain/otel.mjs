// The OpenTelemetry variant of a chain hop: the tracing SDK (BasicTracerProvider, no span processor
// and no exporter — spans are recorded, then dropped, so this is a lower bound of a real setup), the
// AsyncLocalStorage context manager, W3C tracecontext + baggage propagators, and the http, express
// and undici instrumentations. The lane travels in `baggage` as x-mse-tag=<lane>.
// Versions: the instrumentations of the OpenTelemetry JS 2.x line (instrumentation 0.223,
// instrumentation-http 0.223, -express 0.71, -undici 0.33) still support Node 20; the 3.x line
// (0.300+) needs Node >= 22.15. Using 2.x lets this variant run on both runtimes.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const TAG = 'x-mse-tag';

export function setupOpenTelemetry() {
  const api = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const {
    CompositePropagator,
    W3CBaggagePropagator,
    W3CTraceContextPropagator,
  } = require('@opentelemetry/core');
  const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
  const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');

  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  api.trace.setGlobalTracerProvider(new BasicTracerProvider());
  registerInstrumentations({
    instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation(), new UndiciInstrumentation()],
  });

  /** Edge behaviour: a lane that arrives as x-mse-tag goes into the active baggage. */
  function laneToBaggage(req, _res, next) {
    const tag = req.headers[TAG];
    if (typeof tag !== 'string') return next();
    const active = api.context.active();
    const current = api.propagation.getBaggage(active) ?? api.propagation.createBaggage();
    const baggage = current.setEntry(TAG, { value: tag });
    return api.context.with(api.propagation.setBaggage(active, baggage), next);
  }

  return { laneToBaggage };
}
