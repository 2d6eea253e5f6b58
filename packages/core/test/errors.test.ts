import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { GraylaneError, InvalidLaneError, InvalidOptionError, MissingPeerError } from '@graylane/core';

const require = createRequire(__filename);
type ErrorsModule = typeof import('@graylane/core');

// A second copy of dist/errors.js, as a duplicate install would load it: fresh require cache entry.
function loadSecondCopy(): ErrorsModule {
  const path = require.resolve('@graylane/core/package.json').replace(/package\.json$/, 'dist/errors.js');
  const saved = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as ErrorsModule;
  } finally {
    if (saved !== undefined) require.cache[path] = saved;
    else delete require.cache[path];
  }
}

test('each error has its stable code, a name matching its class, and a useful message', () => {
  const lane = new InvalidLaneError('-bad');
  assert.equal(lane.code, 'GL_ERR_INVALID_LANE');
  assert.equal(lane.name, 'InvalidLaneError');
  assert.match(lane.message, /"-bad"/);
  assert.match(new InvalidLaneError('x'.repeat(500)).message, /…/, 'long values are cut in messages');
  assert.match(new InvalidLaneError(42).message, /number/);

  const option = new InvalidOptionError('sources[0].key', 'is not a header name');
  assert.equal(option.code, 'GL_ERR_INVALID_OPTION');
  assert.equal(option.name, 'InvalidOptionError');
  assert.equal(option.path, 'sources[0].key');
  assert.match(option.message, /sources\[0\]\.key/);

  const cause = new Error('Cannot find module');
  const peer = new MissingPeerError('enableOpenTelemetryBridge()', '@opentelemetry/api', { cause });
  assert.equal(peer.code, 'GL_ERR_MISSING_PEER');
  assert.equal(peer.name, 'MissingPeerError');
  assert.equal(peer.cause, cause);
  assert.match(peer.message, /npm install @opentelemetry\/api/);

  const base = new GraylaneError('m', 'GL_ERR_X');
  assert.equal(base.name, 'GraylaneError');
  assert.equal(base.code, 'GL_ERR_X');
});

test('instanceof follows the class hierarchy within one copy', () => {
  const lane = new InvalidLaneError('-');
  assert.ok(lane instanceof InvalidLaneError);
  assert.ok(lane instanceof GraylaneError);
  assert.ok(lane instanceof Error);
  assert.ok(!(lane instanceof InvalidOptionError));
  assert.ok(!(new Error('x') instanceof GraylaneError));
  assert.ok(!({ code: 'GL_ERR_INVALID_LANE', name: 'InvalidLaneError' } instanceof InvalidLaneError));
  for (const v of [null, undefined, 'GL_ERR_INVALID_LANE', 42])
    assert.ok(!((v as unknown) instanceof GraylaneError));
  // The stack names the class.
  assert.match(String(lane.stack), /^InvalidLaneError: /);
});

test('instanceof works across two copies of the module (Symbol.for brand)', () => {
  const copy = loadSecondCopy();
  assert.notEqual(copy.GraylaneError, GraylaneError, 'really a second copy');
  const foreign = new copy.InvalidLaneError('-bad');
  assert.ok(foreign instanceof GraylaneError);
  assert.ok(foreign instanceof InvalidLaneError);
  assert.ok(!(foreign instanceof InvalidOptionError));
  assert.ok(!(foreign instanceof MissingPeerError));
  const local = new InvalidOptionError('x', 'y');
  assert.ok(local instanceof copy.GraylaneError);
  assert.ok(local instanceof copy.InvalidOptionError);
  assert.ok(!(local instanceof copy.InvalidLaneError));
  // A plain object pretending to be one is not branded.
  assert.ok(!({ name: 'InvalidLaneError', code: 'GL_ERR_INVALID_LANE' } instanceof copy.InvalidLaneError));
});

test('subclasses declared by other packages are matched by their own class only', () => {
  class NoInstanceError extends GraylaneError {
    constructor() {
      super('none', 'GL_ERR_NO_INSTANCE');
      this.name = 'NoInstanceError';
    }
  }
  const err = new NoInstanceError();
  assert.ok(err instanceof NoInstanceError);
  assert.ok(err instanceof GraylaneError);
  assert.ok(!(err instanceof InvalidLaneError));
  assert.ok(!(new InvalidLaneError('-') instanceof NoInstanceError));
  const copy = loadSecondCopy();
  assert.ok(err instanceof copy.GraylaneError);
  assert.ok(!(err instanceof copy.InvalidLaneError));
});
