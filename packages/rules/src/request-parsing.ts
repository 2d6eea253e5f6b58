// Parsers for the parts of a request that rules read lazily: the Cookie header and the query
// string. Both are total: malformed pieces are skipped and counted, nothing throws. The first
// occurrence of a name wins, as in ingress-nginx's `$cookie_<name>` and Envoy's query matching.

/**
 * Parses a `Cookie` header (`a=1; b=2`) into `into`. Values are kept as sent: not unquoted, not
 * percent-decoded (what ingress-nginx compares). Returns the number of malformed pairs skipped.
 */
export function parseCookieHeader(header: string, into: Map<string, string>): number {
  let malformed = 0;
  const length = header.length;
  let start = 0;
  while (start < length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    const eq = header.indexOf('=', start);
    if (eq === -1 || eq > end) {
      if (header.slice(start, end).trim().length > 0) malformed++;
    } else {
      const name = header.slice(start, eq).trim();
      if (name.length === 0) malformed++;
      else if (!into.has(name)) into.set(name, header.slice(eq + 1, end).trim());
    }
    start = end + 1;
  }
  return malformed;
}

/**
 * Parses a query string (without `?`) into `into`, decoding `+` and percent-escapes like
 * `URLSearchParams`. `?key` gives `''`. A pair with a bad escape (`%zz`) is skipped and counted.
 */
export function parseQueryString(query: string, into: Map<string, string>): number {
  let malformed = 0;
  const length = query.length;
  let start = 0;
  while (start < length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const split = eq === -1 || eq > end ? end : eq;
      const name = decodeComponent(query.slice(start, split));
      const value = split === end ? '' : decodeComponent(query.slice(split + 1, end));
      if (name === undefined || value === undefined) malformed++;
      else if (name.length > 0 && !into.has(name)) into.set(name, value);
    }
    start = end + 1;
  }
  return malformed;
}

const PLUS = /\+/g;

function decodeComponent(text: string): string | undefined {
  const hasPlus = text.includes('+');
  if (!hasPlus && !text.includes('%')) return text;
  const spaced = hasPlus ? text.replace(PLUS, ' ') : text;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return undefined;
  }
}
