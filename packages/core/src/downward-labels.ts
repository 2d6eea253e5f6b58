import { readFileSync } from 'node:fs';

/** Where the Kubernetes downward API usually mounts a pod's labels. */
export const DEFAULT_LABELS_FILE = '/etc/podinfo/labels';

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/**
 * Parses a downward-API labels file: one `key="value"` per line, values quoted Go-style (`\"`,
 * `\\`, `\n`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`, octal `\NNN`). Blank lines and lines without `=` are
 * skipped; an unquoted value is taken as is (trimmed). Never throws.
 *
 * @example
 * parseDownwardLabels('app="svc-b"\nalicloud.service.tag="gray"\n');
 * // { app: 'svc-b', 'alicloud.service.tag': 'gray' }
 */
export function parseDownwardLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (line.length === 0 || line.startsWith('#') || eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const rest = line.slice(eq + 1).trim();
    if (key.length === 0) continue;
    labels[key] =
      rest.length >= 2 && rest.startsWith('"') && rest.endsWith('"') ? unquote(rest.slice(1, -1)) : rest;
  }
  return labels;
}

function unquote(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 === body.length) {
      out += c;
      continue;
    }
    const e = body[++i]!;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const length = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + length);
      const code =
        /^[0-9a-fA-F]+$/.test(hex) && hex.length === length ? Number.parseInt(hex, 16) : Number.NaN;
      if (Number.isNaN(code) || code > 0x10ffff) {
        out += `\\${e}`;
      } else {
        out += String.fromCodePoint(code);
        i += length;
      }
    } else if (e >= '0' && e <= '7') {
      const octal = body.slice(i, i + 3);
      if (/^[0-7]{3}$/.test(octal)) {
        out += String.fromCharCode(Number.parseInt(octal, 8));
        i += 2;
      } else {
        out += `\\${e}`;
      }
    } else {
      out += `\\${e}`;
    }
  }
  return out;
}

/**
 * Reads and parses a downward-API labels file; `undefined` when it does not exist or cannot be
 * read (not running in Kubernetes). Never throws.
 *
 * @param file Default {@link DEFAULT_LABELS_FILE}.
 * @example
 * readDownwardLabels()?.['alicloud.service.tag']; // 'gray' in a gray pod
 */
export function readDownwardLabels(file: string = DEFAULT_LABELS_FILE): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseDownwardLabels(text);
}
