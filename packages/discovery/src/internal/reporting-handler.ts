// Wraps an undici dispatch handler so that the routed call sees its progress: connected (the
// request is about to be written), the response status, failure (which the call may take over by
// retrying elsewhere) and the end. Two shapes, because undici 7 accepts both handler APIs and
// tells them apart by onRequestStart.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Headers = Parameters<NonNullable<Handler['onResponseStart']>>[2];

/** What the wrapped handler tells the routed call. */
export interface EndReporter {
  /** The request is about to be written to a connected socket (a byte may reach the instance from now on). */
  connected(): void;
  /** The response started with `statusCode`. */
  responded(statusCode: number): void;
  /** The attempt failed; true when the call took over (retried elsewhere): the error is not passed on. */
  failed(error: Error): boolean;
  /** The request ended (completed, failed or upgraded); called once per attempt. */
  end(): void;
}

/** For handlers with the undici 7 API (`onRequestStart`, `onResponseEnd`, ...). */
export class ReportingHandler implements Handler {
  readonly #handler: Handler;
  readonly #reporter: EndReporter;

  constructor(handler: Handler, reporter: EndReporter) {
    this.#handler = handler;
    this.#reporter = reporter;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#reporter.connected();
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: Duplex): void {
    this.#reporter.responded(statusCode);
    this.#reporter.end();
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Headers,
    statusMessage?: string,
  ): void {
    this.#reporter.responded(statusCode);
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    this.#reporter.end();
    this.#handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    if (this.#reporter.failed(error)) return;
    this.#reporter.end();
    this.#handler.onResponseError?.(controller, error);
  }
}

/** For handlers with the legacy API (`onConnect`, `onHeaders`, `onComplete`, `onError`), as `request()` and `fetch()` use. */
export class LegacyReportingHandler implements Handler {
  readonly #handler: Handler;
  readonly #reporter: EndReporter;

  constructor(handler: Handler, reporter: EndReporter) {
    this.#handler = handler;
    this.#reporter = reporter;
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#reporter.connected();
    this.#handler.onConnect?.(abort);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.#reporter.responded(statusCode);
    return this.#handler.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.#reporter.end();
    this.#handler.onComplete?.(trailers);
  }

  onError(error: Error): void {
    if (this.#reporter.failed(error)) return;
    this.#reporter.end();
    if (this.#handler.onError === undefined) throw error;
    this.#handler.onError(error);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.#reporter.responded(statusCode);
    this.#reporter.end();
    this.#handler.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.#handler.onBodySent?.(chunkSize, totalBytesSent);
  }
}

const FAILED_CONTROLLER: Controller = Object.freeze({
  aborted: true,
  paused: false,
  reason: null,
  abort() {},
  pause() {},
  resume() {},
});

/** Reports `error` to a handler of either shape, the way undici reports a dispatch failure. */
export function failHandler(handler: Handler, error: Error): void {
  if (typeof handler.onRequestStart === 'function') {
    handler.onResponseError?.(FAILED_CONTROLLER, error);
  } else if (typeof handler.onError === 'function') {
    handler.onError(error);
  } else {
    throw error;
  }
}
