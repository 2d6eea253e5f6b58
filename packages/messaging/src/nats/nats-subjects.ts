// Subject patterns, token by token (`*` one token, `>` the rest): what a stream captures and what a
// durable filters, checked at setup so that a layout that would route lanes wrongly fails loudly.

/** Whether every subject `inner` matches is matched by `outer`. */
export function subjectCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const i = inner.split('.');
  for (let k = 0; k < o.length; k++) {
    if (o[k] === '>') return k < i.length;
    if (k >= i.length || i[k] === '>') return false;
    if (o[k] !== '*' && (i[k] === '*' || o[k] !== i[k])) return false;
  }
  return o.length === i.length;
}

/** Whether some subject is matched by both `a` and `b`. */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let k = 0; k < x.length && k < y.length; k++) {
    if (x[k] === '>' || y[k] === '>') return true;
    if (x[k] !== '*' && y[k] !== '*' && x[k] !== y[k]) return false;
  }
  return x.length === y.length;
}
