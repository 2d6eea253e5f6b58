/** Codes already warned about in this process. */
const warned = new Set<string>();

/**
 * Emits `message` as a process warning (type `GraylaneWarning`, `code`) the first time `code` is
 * seen in this process, and does nothing after. Silence one with `node --disable-warning=<code>`.
 */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'GraylaneWarning', code });
}
