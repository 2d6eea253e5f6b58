// The shape of a static instance list (options, file, environment variable).
import { InvalidInstanceError } from '../errors';
import type { Instance, ServiceInstanceInit } from '../instance';
import { normalizeInstance, validateServiceName } from '../normalize-instance';
import { toError } from './caught';
import { loadPeer } from './optional-peer';

/** An instance and the service it belongs to. */
export interface ServiceEntry {
  readonly service: string;
  readonly instance: Instance;
}

/** Normalizes `[{ service, host, port, ... }]`. `source` prefixes error paths. */
export function entriesFromList(list: readonly ServiceInstanceInit[], source: string): ServiceEntry[] {
  if (!Array.isArray(list)) throw new InvalidInstanceError(source, 'expected an array of instances');
  return list.map((init: ServiceInstanceInit, i) => {
    const path = `${source}[${i}]`;
    if (typeof init !== 'object' || init === null) throw new InvalidInstanceError(path, 'expected an object');
    return {
      service: validateServiceName(init.service, `${path}.service`),
      instance: normalizeInstance(init, path),
    };
  });
}

/**
 * Normalizes a parsed document: either an array of instances that each name their `service`, or
 * an object mapping service name -> array of instances.
 */
export function entriesFromDocument(document: unknown, source: string): ServiceEntry[] {
  if (Array.isArray(document)) return entriesFromList(document, source);
  if (typeof document !== 'object' || document === null) {
    throw new InvalidInstanceError(
      source,
      'expected an array of instances, or an object of service -> instances',
    );
  }
  const entries: ServiceEntry[] = [];
  for (const [service, list] of Object.entries(document)) {
    const path = `${source}.${service}`;
    validateServiceName(service, path);
    if (!Array.isArray(list)) throw new InvalidInstanceError(path, 'expected an array of instances');
    list.forEach((init: unknown, i) => {
      entries.push({ service, instance: normalizeInstance(init as Instance, `${path}[${i}]`) });
    });
  }
  return entries;
}

/** True for `.yaml` / `.yml` paths. */
export function isYamlPath(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

interface YamlModule {
  parse(text: string): unknown;
}

/**
 * Parses a file's text (YAML for `.yaml`/`.yml`, else JSON). An empty file is an error, never an
 * empty set: a half-written file must not wipe the instances (write `[]` for "none").
 *
 * @throws {InvalidInstanceError} for unparsable or malformed content.
 * @throws {MissingPeerError} when a YAML file is used without the `yaml` package.
 */
export function entriesFromText(text: string, source: string, yaml: boolean): ServiceEntry[] {
  if (text.trim().length === 0)
    throw new InvalidInstanceError(source, 'the file is empty (write [] for no instances)');
  let document: unknown;
  if (yaml) {
    const parser = loadPeer<YamlModule>('yaml', 'staticRegistry() with a YAML file');
    try {
      document = parser.parse(text);
    } catch (error) {
      throw new InvalidInstanceError(source, `not valid YAML: ${toError(error).message}`);
    }
  } else {
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new InvalidInstanceError(source, `not valid JSON: ${toError(error).message}`);
    }
  }
  return entriesFromDocument(document, source);
}
