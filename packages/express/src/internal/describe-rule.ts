import type { Condition, Rule, RuleMatch, StickyKey, StringMatch } from '@graylane/rules';
import type { RuleRow } from '../diagnostics-report';

// How the diagnostics page spells a rule: `header User-Agent = "foo" AND ...`, ` OR ` between matches.

const OPERATORS: Readonly<Record<string, string>> = {
  Exact: '=',
  Prefix: '^=',
  RegularExpression: '~',
};

function describeCondition(kind: string, condition: Condition): string {
  const type = condition.type ?? 'Exact';
  let text: string;
  if (type === 'Present') text = `${kind} ${condition.name} present`;
  else if (type === 'Absent') text = `${kind} ${condition.name} absent`;
  else text = `${kind} ${condition.name} ${OPERATORS[type] ?? type} ${JSON.stringify(condition.value ?? '')}`;
  return condition.invert ? `NOT (${text})` : text;
}

function describeStringMatch(kind: string, match: string | StringMatch): string {
  if (typeof match === 'string') return `${kind} = ${JSON.stringify(match)}`;
  const text = `${kind} ${OPERATORS[match.type ?? 'Exact'] ?? match.type} ${JSON.stringify(match.value)}`;
  return match.invert ? `NOT (${text})` : text;
}

function describeMatch(match: RuleMatch): string {
  const parts: string[] = [];
  if (match.method !== undefined) parts.push(describeStringMatch('method', match.method));
  if (match.path !== undefined) parts.push(describeStringMatch('path', match.path));
  for (const c of match.headers ?? []) parts.push(describeCondition('header', c));
  for (const c of match.queryParams ?? []) parts.push(describeCondition('query', c));
  for (const c of match.cookies ?? []) parts.push(describeCondition('cookie', c));
  return parts.length === 0 ? '*' : parts.join(' AND ');
}

function describeSticky(sticky: StickyKey | undefined): string | null {
  if (sticky === undefined) return null;
  if ('header' in sticky) return `header ${sticky.header}`;
  if ('cookie' in sticky) return `cookie ${sticky.cookie}`;
  return `query ${sticky.query}`;
}

function describeHeaders(rule: Rule): string | null {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(rule.setHeaders ?? {})) parts.push(`set ${name}: ${value}`);
  for (const [name, value] of Object.entries(rule.addHeaders ?? {})) parts.push(`add ${name}: ${value}`);
  for (const name of rule.removeHeaders ?? []) parts.push(`remove ${name}`);
  return parts.length === 0 ? null : parts.join('; ');
}

/** One rule, rendered for reading. */
export function ruleRow(rule: Rule, index: number, hits: number): RuleRow {
  const matches = rule.matches ?? [];
  return {
    index,
    name: rule.name ?? null,
    lane: rule.lane ?? null,
    matches: matches.length === 0 ? '*' : matches.map(describeMatch).join(' OR '),
    weight: rule.weight ?? 100,
    sticky: describeSticky(rule.sticky),
    headers: describeHeaders(rule),
    hits,
  };
}
