// One plain `node:http` call for the framework adapter tests (Express, Fastify, Koa), and the
// response-body reader the root tests' own `node:http` clients share.
import { type Agent, type IncomingMessage, request } from 'node:http';

/** What {@link call} got back. */
export interface Reply {
  readonly status: number;
  readonly body: string;
}

/** Options of {@link call}. */
export interface CallOptions {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  /** Sent in two writes a few ms apart, so the server parser's 'end' comes from the socket. */
  readonly body?: string;
  /** Lets tests reuse a keep-alive connection. Default: a new connection. */
  readonly agent?: Agent;
}

/** The whole body of `res` as UTF-8 text; rejects if the response errors before its end. */
export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
    });
    res.on('end', () => resolve(body));
    res.on('error', reject);
  });
}

/** One HTTP call to `127.0.0.1:port`; resolves with the status and the whole body. */
export function call(port: number, options: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) {
      req.end();
      return;
    }
    const half = Math.floor(body.length / 2);
    req.write(body.slice(0, half));
    setTimeout(() => req.end(body.slice(half)), 5);
  });
}
