import { InvalidInstanceError } from './errors';
import { DEFAULT_WEIGHT, type Instance, type InstanceInit } from './instance';

/** Largest accepted instance weight. */
export const MAX_WEIGHT = 1_000_000;

/** Longest accepted service name (a DNS name). */
export const MAX_SERVICE_NAME_LENGTH = 253;

const SERVICE_NAME = /^[A-Za-z0-9_](?:[-A-Za-z0-9_.]*[A-Za-z0-9_])?$/;
const HOST_FORBIDDEN = /[\s/?#@]/;

/**
 * Validates an instance declaration and returns the frozen {@link Instance}: `id` defaults to
 * `host:port`, `weight` to 100, `healthy` to true; labels are copied (number and boolean label
 * values, as YAML produces them, become strings).
 *
 * @param path Names the declaration in error messages (`instances[2]`). Default `instance`.
 * @throws {InvalidInstanceError} `GL_ERR_INVALID_INSTANCE`; `err.path` names the bad field
 *   (`instances[2].port`).
 * @example
 * normalizeInstance({ host: '10.0.0.5', port: 8080, labels: { 'alicloud.service.tag': 'gray' } });
 * // { id: '10.0.0.5:8080', host: '10.0.0.5', port: 8080, labels: {...}, weight: 100, healthy: true }
 */
export function normalizeInstance(init: InstanceInit, path = 'instance'): Instance {
  if (typeof init !== 'object' || init === null || Array.isArray(init)) {
    throw new InvalidInstanceError(path, 'expected an object');
  }
  const { host, port } = init;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255 || HOST_FORBIDDEN.test(host)) {
    throw new InvalidInstanceError(`${path}.host`, 'expected a host name or IP address');
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidInstanceError(`${path}.port`, 'expected an integer port 1..65535');
  }
  const id = init.id ?? `${host}:${port}`;
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidInstanceError(`${path}.id`, 'expected a non-empty string');
  }
  const weight = init.weight ?? DEFAULT_WEIGHT;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
    throw new InvalidInstanceError(`${path}.weight`, `expected an integer 0..${MAX_WEIGHT}`);
  }
  const healthy = init.healthy ?? true;
  if (typeof healthy !== 'boolean') {
    throw new InvalidInstanceError(`${path}.healthy`, 'expected a boolean');
  }
  return Object.freeze({
    id,
    host,
    port,
    labels: normalizeLabels(init.labels, `${path}.labels`),
    weight,
    healthy,
  });
}

function normalizeLabels(labels: unknown, path: string): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  if (labels === undefined || labels === null) return Object.freeze(out);
  if (typeof labels !== 'object' || Array.isArray(labels)) {
    throw new InvalidInstanceError(path, 'expected an object of label key -> value');
  }
  for (const [key, value] of Object.entries(labels)) {
    if (key.length === 0) throw new InvalidInstanceError(path, 'a label key is empty');
    if (typeof value === 'string') out[key] = value;
    else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') {
      out[key] = String(value);
    } else {
      throw new InvalidInstanceError(`${path}.${key}`, 'expected a string');
    }
  }
  return Object.freeze(out);
}

/**
 * Validates a service name: a DNS-like name (letters, digits, `-`, `_`, `.`), at most 253
 * characters. Returns it unchanged.
 *
 * @throws {InvalidInstanceError} `GL_ERR_INVALID_INSTANCE` naming `path`.
 * @example
 * validateServiceName('svc-b'); // 'svc-b'
 */
export function validateServiceName(service: unknown, path = 'service'): string {
  if (!isServiceName(service)) {
    throw new InvalidInstanceError(path, 'expected a service name (letters, digits, -, _, .)');
  }
  return service;
}

/**
 * True when `value` is a valid service name (see {@link validateServiceName}). Never throws.
 *
 * @example
 * isServiceName('svc-b'); // true
 * isServiceName('a b');   // false
 */
export function isServiceName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_SERVICE_NAME_LENGTH &&
    SERVICE_NAME.test(value)
  );
}
