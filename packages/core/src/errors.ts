const kGraylaneError = Symbol.for('graylane.error');

/**
 * Base class of every error graylane throws. Check `err.code`, which is stable across
 * versions. `instanceof` also works across duplicate installs of a package: errors are branded
 * with a `Symbol.for` key, and a branded error is an instance of a class of the same `name`
 * (`InvalidLaneError`, ...) from any copy; `instanceof GraylaneError` matches every branded error.
 *
 * @example
 * try { withLane('-bad', run); } catch (err) {
 *   if (err instanceof GraylaneError && err.code === 'GL_ERR_INVALID_LANE') ...
 * }
 */
export class GraylaneError extends Error {
  /** Stable machine-readable code, `GL_ERR_*`. */
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GraylaneError';
    this.code = code;
  }

  get [kGraylaneError](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null) return false;
    if ((value as Record<symbol, unknown>)[kGraylaneError] !== true) return false;
    // A branded error from another copy: the base class matches all, a subclass its own name.
    return this.name === 'GraylaneError' || (value as { name?: unknown }).name === this.name;
  }
}

/** `GL_ERR_INVALID_LANE`: a lane given to an API (not read from a request) is not a valid lane tag. */
export class InvalidLaneError extends GraylaneError {
  constructor(value: unknown) {
    super(
      `Invalid lane ${describe(value)}: a lane is a Kubernetes label value (1..63 chars of [A-Za-z0-9-_.], alphanumeric at both ends)`,
      'GL_ERR_INVALID_LANE',
    );
    this.name = 'InvalidLaneError';
  }
}

/** `GL_ERR_INVALID_OPTION`: an option passed at setup is malformed. `path` names the option. */
export class InvalidOptionError extends GraylaneError {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`Invalid option ${path}: ${message}`, 'GL_ERR_INVALID_OPTION', options);
    this.name = 'InvalidOptionError';
    this.path = path;
  }
}

/**
 * `GL_ERR_FACTORY_NOT_CALLED`: a factory (`laneMiddleware`, `laneClientInterceptor`, ...) was
 * handed to a framework without being called, so the framework called it with a request.
 * The message says what to write instead, e.g. `app.use(laneMiddleware())`.
 */
export class FactoryNotCalledError extends GraylaneError {
  constructor(factory: string, usage: string) {
    super(
      `${factory} is a factory and was called by the framework with a request: call it to get the ` +
        `handler, write ${usage}`,
      'GL_ERR_FACTORY_NOT_CALLED',
    );
    this.name = 'FactoryNotCalledError';
  }
}

/** `GL_ERR_MISSING_PEER`: a feature needs an optional peer dependency that is not installed. */
export class MissingPeerError extends GraylaneError {
  constructor(feature: string, peer: string, options?: { cause?: unknown }) {
    super(
      `${feature} needs the optional peer dependency '${peer}': npm install ${peer}`,
      'GL_ERR_MISSING_PEER',
      options,
    );
    this.name = 'MissingPeerError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return typeof value;
}
