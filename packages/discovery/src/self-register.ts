import { networkInterfaces } from 'node:os';
import { assertKnownOptions, InvalidOptionError, parseLane, readInstanceLane } from '@graylane/core';
import { type DrainableServer, type DrainOptions, drainAndClose, drainOptions, whenListening } from './drain';
import { compileLaneLabels, DEFAULT_LANE_LABELS, laneLabelFor, matchLaneLabel } from './lane-labels';
import type { Registration, Registry } from './registry';

/** Signals {@link closeOnSignals} listens to by default. */
export const DEFAULT_CLOSE_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGTERM', 'SIGINT']);

/** Options of {@link register}. */
export interface RegisterOptions {
  readonly service: string;
  readonly port: number;
  /** Default `host:port`. */
  readonly id?: string | undefined;
  /** Default: `POD_IP`, else the first non-internal IPv4 address, else `127.0.0.1`. */
  readonly host?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** Default 100. */
  readonly weight?: number | undefined;
  /**
   * This instance's lane; `null` = base (skips the environment and the labels file). When
   * omitted: a lane label already in `labels`, else the instance lane of `@graylane/core`
   * (`readInstanceLane()`: the lane set with `setInstanceLane()`, else `$GRAYLANE_LANE`, else the
   * downward-API labels file, else base).
   */
  readonly lane?: string | null | undefined;
  /** Lane labels (as in `createDiscovery`): the first names the label written; all are read from the labels file. Default {@link DEFAULT_LANE_LABELS}. */
  readonly laneLabels?: readonly string[] | undefined;
  /** Downward-API labels file; `false` to skip. Default `/etc/podinfo/labels`. */
  readonly labelsFile?: string | false | undefined;
  /** Environment to read `GRAYLANE_LANE` and `POD_IP` from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Close the registration on these signals (see {@link closeOnSignals}); `true` = SIGTERM and SIGINT. Default `false`. */
  readonly closeOnSignals?: boolean | readonly NodeJS.Signals[] | undefined;
  /**
   * The server this instance serves on. Registration waits until it is listening; on a signal
   * (`closeOnSignals`) it is closed after the drain (see {@link drainAndClose}).
   */
  readonly server?: DrainableServer | undefined;
  /** Registration also waits until this resolves (warm caches, open pools). Rejection: no registration. */
  readonly ready?: (() => unknown) | undefined;
  /** Drain window on a signal: deregistered, still serving. Default {@link DEFAULT_DRAIN_MS} (5 s). */
  readonly drainMs?: number | undefined;
  /** Longest wait for in-flight requests once the server closes. Default 30 s. */
  readonly closeTimeoutMs?: number | undefined;
}

const REGISTER_OPTION_KEYS: readonly string[] = Object.keys({
  service: 1,
  port: 1,
  id: 1,
  host: 1,
  labels: 1,
  weight: 1,
  lane: 1,
  laneLabels: 1,
  labelsFile: 1,
  env: 1,
  closeOnSignals: 1,
  server: 1,
  ready: 1,
  drainMs: 1,
  closeTimeoutMs: 1,
} satisfies Record<keyof RegisterOptions, 1>);

/**
 * Registers this process as an instance of `service`, labelled with its lane. The lane comes
 * from `options.lane`, else a lane label in `options.labels`, else `$GRAYLANE_LANE`, else the
 * Kubernetes downward-API labels file (`/etc/podinfo/labels`); it is written as the first lane
 * label (`alicloud.service.tag` by default). `close()` on the returned registration deregisters.
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` (rejection) when the lane from any source is
 *   not a valid lane.
 * @throws {InvalidInstanceError} `GL_ERR_INVALID_INSTANCE` (rejection) for a bad port, host, ...
 * @example
 * const registration = await register(registry, { service: 'svc-b', port: 8080, closeOnSignals: true });
 * // GRAYLANE_LANE=gray node server.js  -> registered with alicloud.service.tag=gray
 */
export async function register(registry: Registry, options: RegisterOptions): Promise<Registration> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { service, port, ... }');
  }
  assertKnownOptions('register()', options, REGISTER_OPTION_KEYS);
  const compiled = compileLaneLabels(options.laneLabels ?? DEFAULT_LANE_LABELS);
  const env = options.env ?? process.env;
  const labels: Record<string, string> = { ...options.labels };
  const own = options.lane === undefined ? matchLaneLabel(labels, compiled) : undefined;
  if (own !== undefined) {
    checked(own.value, `labels.${own.key}`); // already labelled: keep the labels as given
  } else {
    const lane = readInstanceLane({
      ...(options.lane === undefined ? {} : { lane: options.lane }),
      laneLabels: compiled.source,
      ...(options.labelsFile === undefined ? {} : { labelsFile: options.labelsFile }),
      env,
    });
    if (lane !== undefined) labels[laneLabelFor(lane, compiled)] = lane;
  }
  const host = options.host ?? (nonEmpty(env.POD_IP) || firstExternalIPv4() || '127.0.0.1');
  const drain: DrainOptions = {
    ...(options.server === undefined ? {} : { server: options.server }),
    ...(options.drainMs === undefined ? {} : { drainMs: options.drainMs }),
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
  };
  drainOptions(drain);
  if (options.ready !== undefined && typeof options.ready !== 'function') {
    throw new InvalidOptionError('ready', 'expected a function');
  }
  // Lossless start: only a listening (and ready) instance is registered.
  if (options.server !== undefined) await whenListening(options.server);
  if (options.ready !== undefined) await options.ready();
  const registration = await registry.register({
    service: options.service,
    host,
    port: options.port,
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.weight === undefined ? {} : { weight: options.weight }),
    labels,
  });
  const signals = options.closeOnSignals;
  if (signals === true) closeOnSignals(registration, DEFAULT_CLOSE_SIGNALS, drain);
  else if (Array.isArray(signals)) closeOnSignals(registration, signals, drain);
  return registration;
}

function checked(lane: unknown, path: string): string {
  if (parseLane(lane) === undefined) {
    throw new InvalidOptionError(path, `${JSON.stringify(lane)} is not a lane (a Kubernetes label value)`);
  }
  return lane as string;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim().length === 0 ? undefined : value.trim();
}

function firstExternalIPv4(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return undefined;
}

/**
 * On one of `signals`: deregisters, keeps serving for the drain window, closes `drain.server`
 * (in-flight requests finish) — {@link drainAndClose} — then lets the signal do what it would
 * have done: when no other listener remains and no other closeOnSignals drain of that signal is
 * still running (several registrations, e.g. HTTP and gRPC), it is raised again, so the default
 * (exit) still happens. Returns a function that removes the listeners. Off unless you call it.
 *
 * @param signals Default SIGTERM and SIGINT.
 * @param drain Default: a {@link DEFAULT_DRAIN_MS} drain, no server to close.
 * @example
 * closeOnSignals(await register(registry, { service: 'svc-b', port }), undefined, { server });
 */
export function closeOnSignals(
  registration: Pick<Registration, 'close'>,
  signals: readonly NodeJS.Signals[] = DEFAULT_CLOSE_SIGNALS,
  drain: DrainOptions = {},
): () => void {
  drainOptions(drain);
  const remove = (): void => {
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
  function onSignal(signal: NodeJS.Signals): void {
    remove();
    drainsInProgress.set(signal, (drainsInProgress.get(signal) ?? 0) + 1);
    const done = (): void => {
      const left = drainsInProgress.get(signal)! - 1;
      if (left === 0) drainsInProgress.delete(signal);
      else drainsInProgress.set(signal, left);
      reraise(signal);
    };
    drainAndClose(registration, drain).then(done, done);
  }
  for (const signal of signals) process.on(signal, onSignal);
  return remove;
}

/**
 * Drains started by closeOnSignals and not finished, per signal. Each one's listener is gone once
 * it runs, so the listener count alone would let the first drain to finish (say, gRPC's) end
 * the process while another (HTTP's) still has requests in flight.
 */
const drainsInProgress = new Map<NodeJS.Signals, number>();

function reraise(signal: NodeJS.Signals): void {
  if (!drainsInProgress.has(signal) && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}
