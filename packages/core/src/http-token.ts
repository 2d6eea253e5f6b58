/**
 * An RFC 9110 token: what header field names and W3C baggage keys are made of. The one
 * definition every option and rule validator uses.
 */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Whether `value` is an RFC 9110 token, the grammar of header field names and W3C baggage keys:
 * one or more of `` !#$%&'*+-.^_`|~ ``, digits and ASCII letters. For validating options and
 * rules at setup; graylane's own validators use the same definition.
 *
 * @example
 * isHttpToken('x-user-group'); // true
 * isHttpToken('bad header');   // false
 */
export function isHttpToken(value: unknown): value is string {
  return typeof value === 'string' && HTTP_TOKEN.test(value);
}
