import type { IncomingMessage, ServerResponse } from 'node:http';

// The part of Fastify these plugins use, declared structurally: the package's declarations then
// compile without Fastify's own types (whose pino typings need esModuleInterop under node10).
// Fastify 4 and 5 instances, requests and replies fit.

/**
 * What a graylane plugin reads of a Fastify request and reply: the Node request and response.
 *
 * @example
 * const raw: IncomingMessage = (request satisfies LaneFastifyRequest).raw;
 */
export interface LaneFastifyRequest {
  readonly raw: IncomingMessage;
}

/** @see LaneFastifyRequest @example const res: ServerResponse = (reply satisfies LaneFastifyReply).raw; */
export interface LaneFastifyReply {
  readonly raw: ServerResponse;
}

/**
 * The instance a graylane plugin is registered on: it adds an `onRequest` hook (and the edge an
 * `onClose` hook that stops a rule source it made).
 *
 * @example
 * const instance: LaneFastifyInstance = fastify();
 */
export interface LaneFastifyInstance {
  addHook(
    name: 'onRequest',
    hook: (request: LaneFastifyRequest, reply: LaneFastifyReply, done: (error?: Error) => void) => void,
  ): unknown;
  addHook(name: 'onClose', hook: (instance: unknown, done: (error?: Error) => void) => void): unknown;
}

/**
 * A Fastify plugin (callback style), as `laneFastify()` and `laneFastifyEdge()` return it: pass it
 * to `app.register()`.
 *
 * @example
 * const plugin: LaneFastifyPlugin = laneFastify();
 * app.register(plugin);
 */
export type LaneFastifyPlugin = (
  instance: LaneFastifyInstance,
  options: unknown,
  done: (error?: Error) => void,
) => void;
