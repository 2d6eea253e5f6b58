import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertKnownOptions, InvalidOptionError } from '@graylane/core';
import type { PlanStatus } from '@graylane/rules';

/** Shortest admin token accepted, in characters. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;
/** Largest request body the admin endpoint reads (an abort reason), in bytes. */
export const MAX_ADMIN_BODY_BYTES = 4096;

/** What the admin endpoint drives: a `releasePlan()` result fits. */
export interface AdminPlan {
  readonly name: string;
  status(): PlanStatus;
  promote(options?: { full?: boolean }): Promise<PlanStatus>;
  abort(reason?: string): Promise<PlanStatus>;
  pause(): Promise<PlanStatus>;
  resume(): Promise<PlanStatus>;
  retry(): Promise<PlanStatus>;
}

/** Options of {@link planAdminRouter}. */
export interface PlanAdminRouterOptions {
  /** The plans it drives, by `name`. Required. */
  readonly plans: AdminPlan | readonly AdminPlan[];
  /**
   * The bearer token every request must carry (`Authorization: Bearer <token>`), at least
   * {@link MIN_ADMIN_TOKEN_LENGTH} characters. Required: there is no unauthenticated mode.
   */
  readonly token: string;
}

const PLAN_ADMIN_ROUTER_OPTION_KEYS: readonly string[] = Object.keys({
  plans: 1,
  token: 1,
} satisfies Record<keyof PlanAdminRouterOptions, 1>);

type Next = (err?: unknown) => void;
const ACTIONS = new Set(['promote', 'abort', 'pause', 'resume', 'retry']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ADMIN_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The release-plan admin endpoint: an Express middleware (4 and 5; also a bare `node:http`
 * handler) that drives plans with the same functions the code calls. It is off unless you mount
 * it, and every request needs `Authorization: Bearer <token>` (compared in constant time); mount it
 * on an internal port.
 *
 * | request | does |
 * |---|---|
 * | `GET /` | every plan's `status()` |
 * | `GET /<plan>` | one plan's `status()` |
 * | `POST /<plan>/promote` | `promote()`; `?full=true` skips every remaining step |
 * | `POST /<plan>/abort` | `abort(reason)`; reason from `?reason=` or a JSON body `{ "reason": "..." }` |
 * | `POST /<plan>/pause`, `/resume`, `/retry` | `pause()`, `resume()`, `retry()` |
 *
 * Answers: 200 with the plan's status; 401 without the token; 404 for an unknown plan or action;
 * 405 for another method; 409 with `{ code, message }` when the plan refuses (`GL_ERR_PLAN_STORE`:
 * wrong phase, store unreachable).
 *
 * @throws {InvalidOptionError} `GL_ERR_INVALID_OPTION` without plans or with a missing or short token.
 * @example
 * admin.use('/graylane/plans', planAdminRouter({ plans: plan, token: process.env.GRAYLANE_ADMIN_TOKEN! }));
 * // curl -X POST -H "authorization: Bearer $TOKEN" http://127.0.0.1:9901/graylane/plans/checkout-v2/promote
 */
export function planAdminRouter(options: PlanAdminRouterOptions) {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'expected { plans, token }');
  assertKnownOptions('planAdminRouter()', options, PLAN_ADMIN_ROUTER_OPTION_KEYS);
  const list = Array.isArray(options.plans) ? options.plans : [options.plans];
  const plans = new Map<string, AdminPlan>();
  for (const plan of list as AdminPlan[]) {
    if (
      typeof plan?.name !== 'string' ||
      typeof plan.promote !== 'function' ||
      typeof plan.status !== 'function'
    ) {
      throw new InvalidOptionError('plans', 'expected releasePlan() results');
    }
    plans.set(plan.name, plan);
  }
  if (plans.size === 0) throw new InvalidOptionError('plans', 'expected at least one plan');
  if (typeof options.token !== 'string' || options.token.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new InvalidOptionError(
      'token',
      `required: a secret of at least ${MIN_ADMIN_TOKEN_LENGTH} characters`,
    );
  }
  const expected = digest(`Bearer ${options.token}`);

  return function planAdminRouter(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const auth = req.headers.authorization;
    // Hash both sides: equal lengths for timingSafeEqual, and nothing learnt from the length.
    if (typeof auth !== 'string' || !timingSafeEqual(digest(auth), expected)) {
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, { code: 'unauthorized', message: 'Authorization: Bearer <token> required' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const parts = url.pathname
      .split('/')
      .filter((p) => p.length > 0)
      .map(decodeURIComponent);
    if (parts.length === 0) {
      if (req.method !== 'GET') return void send(res, 405, { code: 'method', message: 'GET only' });
      send(res, 200, { plans: [...plans.values()].map((plan) => plan.status()) });
      return;
    }
    const plan = plans.get(parts[0]!);
    if (plan === undefined || parts.length > 2) {
      next();
      return;
    }
    if (parts.length === 1) {
      if (req.method !== 'GET') return void send(res, 405, { code: 'method', message: 'GET only' });
      send(res, 200, plan.status());
      return;
    }
    const action = parts[1]!;
    if (!ACTIONS.has(action)) {
      next();
      return;
    }
    if (req.method !== 'POST') return void send(res, 405, { code: 'method', message: 'POST only' });
    void run(plan, action, req, url).then(
      (status) => send(res, 200, status),
      (error: unknown) => {
        const code = (error as { code?: unknown })?.code;
        const message = error instanceof Error ? error.message : String(error);
        send(res, code === 'GL_ERR_PLAN_STORE' ? 409 : 400, {
          code: typeof code === 'string' ? code : 'error',
          message,
        });
      },
    );
  };
}

async function run(plan: AdminPlan, action: string, req: IncomingMessage, url: URL): Promise<PlanStatus> {
  switch (action) {
    case 'promote':
      return plan.promote({ full: url.searchParams.get('full') === 'true' });
    case 'abort': {
      let reason = url.searchParams.get('reason') ?? undefined;
      const body = (req as { body?: unknown }).body ?? (await readBody(req));
      if (reason === undefined && typeof body === 'string' && body.trim().startsWith('{')) {
        const parsed = JSON.parse(body) as { reason?: unknown };
        if (typeof parsed.reason === 'string') reason = parsed.reason;
      } else if (reason === undefined && typeof body === 'object' && body !== null) {
        const r = (body as { reason?: unknown }).reason;
        if (typeof r === 'string') reason = r;
      }
      return plan.abort(reason ?? 'aborted through the admin endpoint');
    }
    case 'pause':
      return plan.pause();
    case 'resume':
      return plan.resume();
    default:
      return plan.retry();
  }
}
