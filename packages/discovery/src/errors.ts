import { GraylaneError } from '@graylane/core';

/**
 * `GL_ERR_NO_INSTANCE`: nothing can serve the call — no healthy instance of the lane, of its
 * fallback chain, or of the base lane (or base fallback is forbidden by strict mode).
 */
export class NoInstanceError extends GraylaneError {
  readonly service: string;
  readonly lane: string | undefined;

  constructor(service: string, lane: string | undefined, detail: string) {
    super(`No instance of ${service} for lane ${lane ?? '(base)'}: ${detail}`, 'GL_ERR_NO_INSTANCE');
    this.name = 'NoInstanceError';
    this.service = service;
    this.lane = lane;
  }
}

/** `GL_ERR_INVALID_INSTANCE`: an instance declaration is malformed (`path` names the field). */
export class InvalidInstanceError extends GraylaneError {
  readonly path: string;

  constructor(path: string, message: string) {
    super(`Invalid instance ${path}: ${message}`, 'GL_ERR_INVALID_INSTANCE');
    this.name = 'InvalidInstanceError';
    this.path = path;
  }
}

/**
 * `GL_ERR_REGISTRY_UNAVAILABLE`: a registry cannot be reached or read. Delivered to subscribers as
 * `{ ok: false, error }`; the last good instance set stays in use.
 */
export class RegistryUnavailableError extends GraylaneError {
  readonly registry: string;

  constructor(registry: string, message: string, options?: { cause?: unknown }) {
    super(`${registry} registry unavailable: ${message}`, 'GL_ERR_REGISTRY_UNAVAILABLE', options);
    this.name = 'RegistryUnavailableError';
    this.registry = registry;
  }
}

/** `GL_ERR_REGISTRATION_UNSUPPORTED`: this registry does not take self-registrations (Kubernetes). */
export class RegistrationUnsupportedError extends GraylaneError {
  constructor(registry: string, why: string) {
    super(`${registry} registry does not support register(): ${why}`, 'GL_ERR_REGISTRATION_UNSUPPORTED');
    this.name = 'RegistrationUnsupportedError';
  }
}

/** `GL_ERR_DISCOVERY_CLOSED`: the discovery or registry was closed. */
export class ClosedError extends GraylaneError {
  constructor(what: string) {
    super(`${what} is closed`, 'GL_ERR_DISCOVERY_CLOSED');
    this.name = 'ClosedError';
  }
}

/**
 * `GL_ERR_CONNECT_TIMEOUT`: a connection to an instance was not established within the connect
 * timeout (`laneAxiosDiscovery`'s `connectTimeoutMs`). Nothing of the request reached the
 * instance, so the request is retried on another instance of the same routing decision. axios
 * rejects with an `AxiosError` whose `code` is this code and whose `cause` is this error.
 */
export class ConnectTimeoutError extends GraylaneError {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;

  constructor(host: string, port: number, timeoutMs: number) {
    super(`connect to ${host}:${port} timed out after ${timeoutMs} ms`, 'GL_ERR_CONNECT_TIMEOUT');
    this.name = 'ConnectTimeoutError';
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
  }
}
