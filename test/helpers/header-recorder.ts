import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:http';
import type { TestContext } from 'node:test';
import { listen } from './listen';

/** A loopback server that records the headers of every request it gets and answers `ok`. */
export async function headerRecorder(t: TestContext): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  const port = await listen(server, t);
  return { url: `http://127.0.0.1:${port}/`, seen };
}
