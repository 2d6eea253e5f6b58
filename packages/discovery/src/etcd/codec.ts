import { InvalidOptionError } from '@graylane/core';
import { InvalidInstanceError } from '../errors';
import type { Instance, ServiceInstanceInit } from '../instance';
import { isServiceName, normalizeInstance, validateServiceName } from '../normalize-instance';

// One key per instance: `<prefix>/<service>/<id>`, value = the Instance fields as JSON:
// {"id":"10.0.0.7:8080","host":"10.0.0.7","port":8080,"labels":{...},"weight":100,"healthy":true}
// Values are validated exactly like every other registry's instances (normalizeInstance).

/** The key range of one service, with the trailing `/` (so `svc` never matches `svc2`). */
export function serviceKeyPrefix(prefix: string, service: string): string {
  return `${prefix}/${service}/`;
}

/** Throws `GL_ERR_INVALID_OPTION` unless `service` is a valid service name (no `/`, so a key segment). */
export function checkServiceName(service: unknown): asserts service is string {
  if (!isServiceName(service)) {
    throw new InvalidOptionError(
      'service',
      `expected a service name (letters, digits, -, _, .), got ${JSON.stringify(service)}`,
    );
  }
}

/** Validates a self-registration and returns its key, frozen instance and JSON value. */
export function encodeRegistration(
  prefix: string,
  init: ServiceInstanceInit,
): { key: string; instance: Instance; value: string } {
  const instance = normalizeInstance(init, 'instance');
  const service = validateServiceName(init.service, 'instance.service');
  if (instance.id.includes('/'))
    throw new InvalidInstanceError('instance.id', "an etcd instance id cannot contain '/'");
  return {
    key: `${serviceKeyPrefix(prefix, service)}${instance.id}`,
    instance,
    value: JSON.stringify(instance),
  };
}

/**
 * Reads the value stored under `key` (`<service prefix><id>`). Returns the instance, or the
 * `GL_ERR_INVALID_INSTANCE` error saying why the value is skipped. Never throws.
 */
export function decodeInstance(
  key: string,
  keyPrefix: string,
  value: string,
): Instance | InvalidInstanceError {
  const keyId = key.slice(keyPrefix.length);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    return new InvalidInstanceError(key, `value is not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return new InvalidInstanceError(key, 'value is not a JSON object');
  }
  try {
    // The key names the instance; an `id` inside the value does not override it.
    return normalizeInstance({ ...(parsed as ServiceInstanceInit), id: keyId }, key);
  } catch (err) {
    if (err instanceof InvalidInstanceError) return err;
    return new InvalidInstanceError(key, String(err));
  }
}
