import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import { type FileWatch, watchFile } from '@graylane/core/experimental';
import { ClosedError, InvalidInstanceError, RegistryUnavailableError } from './errors';
import type { Instance, ServiceInstanceInit } from './instance';
import { toError } from './internal/caught';
import { Fanout } from './internal/fanout';
import {
  entriesFromDocument,
  entriesFromList,
  entriesFromText,
  isYamlPath,
  type ServiceEntry,
} from './internal/instance-document';
import { normalizeInstance, validateServiceName } from './normalize-instance';
import type { Registration, Registry, RegistryListener } from './registry';

/** Environment variable read by default for a JSON instance list. */
export const DEFAULT_INSTANCES_ENV = 'GRAYLANE_INSTANCES';
/** Quiet time after a file event before the file is read again. */
export const DEFAULT_RELOAD_DEBOUNCE_MS = 50;
/** Interval of the fallback stat poll (for filesystems where fs.watch misses changes). */
export const DEFAULT_POLL_INTERVAL_MS = 2000;

/** Options of {@link staticRegistry}. Sources combine; for a repeated (service, id) the later source wins. */
export interface StaticRegistryOptions {
  /** Instances given in code; each names its `service`. */
  readonly instances?: readonly ServiceInstanceInit[] | undefined;
  /**
   * A JSON or YAML (`.yaml`/`.yml`, needs the `yaml` package) file: an array of instances that
   * each name their `service`, or an object of service -> instances. Reloaded when it changes;
   * a broken file keeps the last good set and subscribers get `{ ok: false, error }`.
   */
  readonly file?: string | undefined;
  /** Environment variable holding a JSON instance list (same shapes as the file); `false` to skip. Default `GRAYLANE_INSTANCES`. */
  readonly env?: string | false | undefined;
  /** Reload `file` when it changes. Default `true`. */
  readonly watch?: boolean | undefined;
  /** Default {@link DEFAULT_RELOAD_DEBOUNCE_MS}. */
  readonly debounceMs?: number | undefined;
  /** Default {@link DEFAULT_POLL_INTERVAL_MS}. */
  readonly pollIntervalMs?: number | undefined;
}

const STATIC_REGISTRY_OPTION_KEYS: readonly string[] = Object.keys({
  instances: 1,
  file: 1,
  env: 1,
  watch: 1,
  debounceMs: 1,
  pollIntervalMs: 1,
} satisfies Record<keyof StaticRegistryOptions, 1>);

interface ServiceSet {
  readonly instances: readonly Instance[];
  readonly signature: string;
}

const NO_INSTANCES: readonly Instance[] = Object.freeze([]);
// Remembered as the "bad text" while the file cannot be read, so the failure is reported once.
const UNREADABLE = '\u0000unreadable';

/**
 * The embedded registry: instances from code, a watched file, an environment variable and
 * in-process `register()` calls. Needs no server. Create with {@link staticRegistry}.
 */
export class StaticRegistry implements Registry {
  readonly name = 'static';
  /** Absolute path of the watched file, if any. */
  readonly file: string | undefined;
  readonly #fixed: readonly ServiceEntry[];
  readonly #yaml: boolean;
  #fileEntries: readonly ServiceEntry[] = [];
  #fileText: string | undefined;
  #badText: string | undefined;
  #failed = false;
  #watch: FileWatch | undefined;
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  readonly #registered = new Map<object, ServiceEntry>();
  readonly #sets = new Map<string, ServiceSet>();
  /** One fan-out per subscribed service (the same delivery and error policy as etcd and Kubernetes). */
  readonly #fanouts = new Map<string, Fanout>();
  #closed = false;

  constructor(options: StaticRegistryOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'expected an object');
    assertKnownOptions('staticRegistry()', options, STATIC_REGISTRY_OPTION_KEYS);
    const fixed = options.instances === undefined ? [] : entriesFromList(options.instances, 'instances');
    const envName = options.env ?? DEFAULT_INSTANCES_ENV;
    if (envName !== false) {
      if (typeof envName !== 'string' || envName.length === 0) {
        throw new InvalidOptionError('env', 'expected an environment variable name or false');
      }
      const text = process.env[envName];
      if (text !== undefined && text.trim().length > 0) {
        let document: unknown;
        try {
          document = JSON.parse(text);
        } catch (error) {
          throw new InvalidInstanceError(envName, `not valid JSON: ${toError(error).message}`);
        }
        fixed.push(...entriesFromDocument(document, envName));
      }
    }
    this.#fixed = fixed;
    this.#yaml = options.file !== undefined && isYamlPath(options.file);
    if (options.file !== undefined) {
      if (typeof options.file !== 'string' || options.file.length === 0) {
        throw new InvalidOptionError('file', 'expected a path');
      }
      const file = resolve(options.file);
      this.file = file;
      let text: string;
      let stamp: string;
      try {
        text = readFileSync(file, 'utf8');
        const s = statSync(file);
        stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch (error) {
        throw new RegistryUnavailableError('static', `cannot read ${file}: ${toError(error).message}`, {
          cause: error,
        });
      }
      this.#fileEntries = entriesFromText(text, file, this.#yaml);
      this.#fileText = text;
      if (options.watch ?? true) {
        const debounceMs = positive(options.debounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS, 'debounceMs');
        const pollMs = positive(options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, 'pollIntervalMs');
        this.#watch = watchFile(file, () => void this.reload(), debounceMs, pollMs, stamp);
      }
    }
    this.#recompute(false);
  }

  subscribe(service: string, listener: RegistryListener): () => void {
    validateServiceName(service);
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'expected a function');
    if (this.#closed) return noop;
    let fanout = this.#fanouts.get(service);
    if (fanout === undefined) {
      fanout = new Fanout('static', service, () => this.#sets.get(service)?.instances ?? NO_INSTANCES);
      this.#fanouts.set(service, fanout);
      fanout.changed();
    }
    return fanout.add(listener);
  }

  /**
   * The service's instances right now (from code, the file, the environment and `register()`);
   * an empty set for a service it does not hold, `undefined` once closed.
   */
  current(service: string): readonly Instance[] | undefined {
    if (this.#closed) return undefined;
    return this.#sets.get(service)?.instances ?? NO_INSTANCES;
  }

  register(init: ServiceInstanceInit): Promise<Registration> {
    if (this.#closed) return Promise.reject(new ClosedError('static registry'));
    let entry: ServiceEntry;
    try {
      entry = {
        service: validateServiceName(init?.service, 'instance.service'),
        instance: normalizeInstance(init, 'instance'),
      };
    } catch (error) {
      return Promise.reject(error);
    }
    const token = {};
    this.#registered.set(token, entry);
    this.#recompute(false);
    const registration: Registration = Object.freeze({
      service: entry.service,
      instance: entry.instance,
      close: (): Promise<void> => {
        if (this.#registered.delete(token) && !this.#closed) this.#recompute(false);
        return Promise.resolve();
      },
    });
    return Promise.resolve(registration);
  }

  /**
   * Reads the file again now (a change is noticed on its own; call this from a SIGHUP handler if
   * you like). Resolves when done; a broken file is reported to subscribers, never thrown.
   */
  reload(): Promise<void> {
    if (this.file === undefined || this.#closed) return Promise.resolve();
    if (this.#reloading !== undefined) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#reloadAgain = false;
        await this.#reloadOnce(this.file!);
      } while (this.#reloadAgain && !this.#closed);
    })().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#watch?.close();
    for (const fanout of this.#fanouts.values()) fanout.close();
    this.#fanouts.clear();
    this.#registered.clear();
    return Promise.resolve();
  }

  async #reloadOnce(file: string): Promise<void> {
    let text: string;
    try {
      // Read synchronously: the file is small, and an asynchronous read takes several thread-pool
      // round trips, each waiting for the event loop. On a busy caller (event loop lagging by
      // hundreds of ms) that delayed a removal past the 5 s default drain (stop-cycles-file.test.ts).
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if (this.#badText !== UNREADABLE) {
        this.#badText = UNREADABLE;
        this.#fail(
          new RegistryUnavailableError('static', `cannot read ${file}: ${toError(error).message}`, {
            cause: error,
          }),
        );
      }
      return;
    }
    if (this.#closed || text === this.#badText) return;
    if (text === this.#fileText && !this.#failed) return;
    let entries: ServiceEntry[];
    try {
      entries = entriesFromText(text, file, this.#yaml);
    } catch (error) {
      this.#badText = text;
      this.#fail(
        new RegistryUnavailableError(
          'static',
          `cannot load ${file}, keeping the last good set: ${toError(error).message}`,
          {
            cause: error,
          },
        ),
      );
      return;
    }
    this.#badText = undefined;
    this.#fileText = text;
    this.#fileEntries = entries;
    const recovered = this.#failed;
    this.#failed = false;
    this.#recompute(recovered);
  }

  #fail(error: Error): void {
    this.#failed = true;
    for (const fanout of this.#fanouts.values()) fanout.fail(error);
  }

  // Rebuilds every service's set; notifies subscribers of the services whose set changed (all of
  // them when `all`, after recovering from a failure).
  #recompute(all: boolean): void {
    const grouped = new Map<string, Map<string, Instance>>();
    const add = (entry: ServiceEntry): void => {
      let byId = grouped.get(entry.service);
      if (byId === undefined) {
        byId = new Map();
        grouped.set(entry.service, byId);
      }
      byId.set(entry.instance.id, entry.instance);
    };
    for (const entry of this.#fixed) add(entry);
    for (const entry of this.#fileEntries) add(entry);
    for (const entry of this.#registered.values()) add(entry);
    const services = new Set([...this.#sets.keys(), ...grouped.keys()]);
    for (const service of services) {
      const instances = Object.freeze([...(grouped.get(service)?.values() ?? [])]);
      const signature = instances.map(signatureOf).join('\n');
      const previous = this.#sets.get(service);
      if (previous !== undefined && previous.signature === signature && !all) continue;
      const next: ServiceSet =
        previous !== undefined && previous.signature === signature ? previous : { instances, signature };
      if (instances.length === 0) this.#sets.delete(service);
      else this.#sets.set(service, next);
      this.#fanouts.get(service)?.changed();
    }
  }
}

function signatureOf(i: Instance): string {
  const labels = Object.entries(i.labels).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify([i.id, i.host, i.port, i.weight, i.healthy, labels]);
}

function positive(value: number, path: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidOptionError(path, 'expected a positive number of milliseconds');
  }
  return value;
}

function noop(): void {}

/**
 * Creates the embedded registry. With no options it reads `GRAYLANE_INSTANCES` (if set).
 *
 * @throws {InvalidInstanceError} `GL_ERR_INVALID_INSTANCE` for a malformed instance at setup
 *   (`err.path` names it, e.g. `instances[1].port` or `/etc/app/instances.yaml.svc-b[0].host`).
 * @throws {RegistryUnavailableError} `GL_ERR_REGISTRY_UNAVAILABLE` when `file` cannot be read at setup.
 * @throws {MissingPeerError} `GL_ERR_MISSING_PEER` for a YAML file without the `yaml` package.
 * @example
 * const registry = staticRegistry({
 *   instances: [
 *     { service: 'svc-b', host: '10.0.0.5', port: 8080 },
 *     { service: 'svc-b', host: '10.0.0.6', port: 8080, labels: { 'alicloud.service.tag': 'gray' } },
 *   ],
 *   file: './instances.yaml',
 * });
 */
export function staticRegistry(options: StaticRegistryOptions = {}): StaticRegistry {
  return new StaticRegistry(options);
}
