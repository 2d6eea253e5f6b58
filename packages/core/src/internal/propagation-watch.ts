import * as diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { LANE_HEADER } from '../constants';
import { currentLaneContext } from '../context';
import { dispatchFrames, flatListHas, outboundCounters } from './outbound-headers';
import { warnOnce } from './warn-once';

// Forgetting enablePropagation() breaks the chain without a word: requests arrive in a lane and
// this service's outbound calls leave without it. The watch notices that, once per process.
//
// It costs nothing until the first request counted at ingress in a lane (`countIngress`); only
// then, and only while no propagation handle is active, does it subscribe to the outbound
// channels every Node has: `undici:request:create` (undici and global fetch) and
// `http.client.request.start` (node:http/https). An outbound request made in a lane without the
// lane header is counted (`unpropagated`) and warned about once (`GL_WARN_PROPAGATION_NOT_ENABLED`).
// `disablePropagationWarning()` (propagation.ts) turns it off for services that want exactly that.

/** The warning code. */
export const PROPAGATION_NOT_ENABLED = 'GL_WARN_PROPAGATION_NOT_ENABLED';

const IDLE = 0; // not armed yet: no lane seen at ingress
const WATCHING = 1; // subscribed
const PAUSED = 2; // propagation is enabled
const SILENCED = 3; // disablePropagationWarning()
let state = IDLE;

const undiciCreate = diagnosticsChannel.channel('undici:request:create');
const httpStart = diagnosticsChannel.channel('http.client.request.start');

function report(): void {
  outboundCounters.unpropagated++;
  warnOnce(
    PROPAGATION_NOT_ENABLED,
    `graylane: this service receives requests in lanes, but an outbound call made in lane '${currentLaneContext().lane}' was sent without the '${LANE_HEADER}' header: enablePropagation() was never called, so the lane stops here. Call enablePropagation() at startup, or disablePropagationWarning() if this service must not forward lanes.`,
  );
}

function inLane(): boolean {
  return currentLaneContext().lane !== undefined;
}

function onUndiciCreate(message: unknown): void {
  // Requests that went through laneInterceptor were decided at dispatch (created in its frame, or
  // queued by undici and created later in another request's context): not this watch's business.
  const frames = dispatchFrames;
  if (frames.depth > 0) {
    frames.created++;
    return;
  }
  if (frames.pending > 0) {
    frames.pending--;
    return;
  }
  try {
    if (!inLane()) return;
    const headers = (message as { request?: { headers?: unknown } } | null)?.request?.headers;
    if (Array.isArray(headers) && !flatListHas(headers, LANE_HEADER)) report();
  } catch {
    // A subscriber must never throw.
  }
}

function onHttpStart(message: unknown): void {
  try {
    if (!inLane()) return;
    const request = (message as { request?: ClientRequest } | null)?.request;
    if (typeof request?.getHeader === 'function' && request.getHeader(LANE_HEADER) === undefined) report();
  } catch {
    // A subscriber must never throw.
  }
}

function subscribe(): void {
  dispatchFrames.pending = 0;
  dispatchFrames.watching = true;
  undiciCreate.subscribe(onUndiciCreate);
  httpStart.subscribe(onHttpStart);
}

function unsubscribe(): void {
  undiciCreate.unsubscribe(onUndiciCreate);
  httpStart.unsubscribe(onHttpStart);
  dispatchFrames.watching = false;
  dispatchFrames.pending = 0;
}

/** A request entered a lane at ingress: arm the watch the first time. @internal */
export function noteLaneIngress(): void {
  if (state !== IDLE) return;
  state = WATCHING;
  subscribe();
}

/** Propagation was enabled (`paused` true) or its last handle disabled (`false`). @internal */
export function pausePropagationWatch(paused: boolean): void {
  if (state === SILENCED) return;
  if (paused) {
    if (state === WATCHING) unsubscribe();
    state = PAUSED;
  } else if (state === PAUSED) {
    state = IDLE; // armed again by the next lane at ingress
  }
}

/** Turns the watch off for good (`disablePropagationWarning`). @internal */
export function silencePropagationWatch(): void {
  if (state === WATCHING) unsubscribe();
  state = SILENCED;
}
