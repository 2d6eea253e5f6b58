import assert from 'node:assert/strict';

/** What a typed graylane error must carry. */
export interface ExpectedTypedError {
  readonly code: string;
  /** The field the error names, e.g. `rules[2].matches[0]`. */
  readonly path: string;
  /** The source system an import error names (`Istio`, `Ambassador`, …). */
  readonly source?: string;
  readonly message?: RegExp;
}

type TypedError = Error & { readonly code: string; readonly path: string; readonly source?: string };

/** Asserts that `fn` throws an instance of `type` with the stable code and the field path given. */
export function assertTypedError(
  fn: () => unknown,
  type: abstract new (...args: never[]) => TypedError,
  expected: ExpectedTypedError,
  label?: string,
): void {
  assert.throws(
    fn,
    (err: unknown) => {
      assert.ok(err instanceof type, String(err));
      assert.equal(err.code, expected.code);
      if (expected.source !== undefined) assert.equal(err.source, expected.source);
      assert.equal(err.path, expected.path);
      if (expected.message !== undefined) assert.match(err.message, expected.message);
      return true;
    },
    label,
  );
}
