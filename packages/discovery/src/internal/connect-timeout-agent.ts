// Node http(s) agents whose new connections fail with ConnectTimeoutError when they are not
// established in time. Node's agents have no connect timeout (their `timeout` is the socket's
// idle timeout, and axios' `timeout` covers the whole request), so an instance that never
// accepts (a full backlog, a blackholed address) would hold a request for all of axios' timeout
// and make it look like it may have reached the instance. Built on the documented
// `agent.createConnection()` hook, so pooling and keep-alive stay Node's own.
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConnectTimeoutError } from '../errors';

/** Node's global agents' settings (Node 20+): keep-alive, LIFO reuse, 5 s idle timeout. */
const AGENT_DEFAULTS = { keepAlive: true, scheduling: 'lifo', timeout: 5_000 } as const;

type Created = Duplex | null | undefined;

/**
 * Destroys `socket` with a {@link ConnectTimeoutError} unless `ready` (`connect`, or
 * `secureConnect` for TLS) fires within `timeoutMs`.
 */
function armConnectTimeout(
  created: Created,
  ready: 'connect' | 'secureConnect',
  host: string,
  port: number,
  timeoutMs: number,
): void {
  const socket = created as Socket | null | undefined;
  if (socket === null || socket === undefined || typeof socket.once !== 'function') return;
  if (ready === 'connect' && socket.connecting === false) return;
  const timer = setTimeout(() => socket.destroy(new ConnectTimeoutError(host, port, timeoutMs)), timeoutMs);
  timer.unref();
  const clear = (): void => clearTimeout(timer);
  socket.once(ready, clear);
  socket.once('close', clear);
}

/** An http.Agent with a connect timeout on each new connection. */
export class ConnectTimeoutHttpAgent extends HttpAgent {
  readonly connectTimeoutMs: number;

  constructor(connectTimeoutMs: number, options: HttpAgentOptions = AGENT_DEFAULTS) {
    super(options);
    this.connectTimeoutMs = connectTimeoutMs;
  }

  override createConnection(
    options: Parameters<HttpAgent['createConnection']>[0],
    callback?: Parameters<HttpAgent['createConnection']>[1],
  ): Created {
    const socket = super.createConnection(options, callback);
    armConnectTimeout(socket, 'connect', hostOf(options), Number(options.port), this.connectTimeoutMs);
    return socket;
  }
}

/** An https.Agent with a connect timeout (TCP connect and TLS handshake) on each new connection. */
export class ConnectTimeoutHttpsAgent extends HttpsAgent {
  readonly connectTimeoutMs: number;

  constructor(connectTimeoutMs: number, options: HttpsAgentOptions = AGENT_DEFAULTS) {
    super(options);
    this.connectTimeoutMs = connectTimeoutMs;
  }

  override createConnection(
    options: Parameters<HttpsAgent['createConnection']>[0],
    callback?: Parameters<HttpsAgent['createConnection']>[1],
  ): Created {
    const socket = super.createConnection(options, callback);
    armConnectTimeout(socket, 'secureConnect', hostOf(options), Number(options.port), this.connectTimeoutMs);
    return socket;
  }
}

function hostOf(options: { host?: string | null | undefined; hostname?: string | null | undefined }): string {
  return options.host ?? options.hostname ?? 'localhost';
}
