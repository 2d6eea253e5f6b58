import { GraylaneError, LANE_METADATA_KEY, type Lane, MAX_COUNTED_LANES, parseLane } from '@graylane/core';
import {
  type ChannelOptions,
  connectivityState,
  experimental,
  Metadata,
  type StatusObject,
  status,
} from '@grpc/grpc-js';
import { UnroutableCallError } from './errors';
import { DISCOVERY_ATTRIBUTE, INSTANCES_ATTRIBUTE, SERVICE_ATTRIBUTE } from './internal/attributes';
import type { LaneChoice, LaneDiscovery, LaneInstance } from './lane-discovery';
import { isTextMetadataKey } from './metadata-carrier';

type Endpoint = experimental.Endpoint;
type PickArgs = experimental.PickArgs;
type PickResult = experimental.PickResult;
type ChannelControlHelper = experimental.ChannelControlHelper;
type LeafLoadBalancer = experimental.LeafLoadBalancer;

/**
 * The policy name in a service config. The lane resolver selects it by itself; name it only
 * when composing policies.
 *
 * @example
 * const serviceConfig = { loadBalancingConfig: [{ [LANE_LB_POLICY]: { metadataKey: 'x-mse-tag' } }] };
 */
export const TYPE_NAME = 'graylane_lane';

/**
 * Trailing-metadata key of a call the lane channel could not route; the value is the error code.
 *
 * @example
 * err.metadata.get(ERROR_CODE_METADATA_KEY); // ['GL_ERR_GRPC_UNROUTABLE']
 */
export const ERROR_CODE_METADATA_KEY = 'graylane-error-code';

/**
 * The parsed `graylane_lane` load-balancing config. `metadataKey` (default `x-mse-tag`) is the
 * metadata key the picker reads the call's lane from.
 *
 * @experimental
 * @example
 * LaneLoadBalancingConfig.createFromJson({ metadataKey: 'x-lane' }).toJsonObject();
 * // { graylane_lane: { metadataKey: 'x-lane' } }
 */
export class LaneLoadBalancingConfig implements experimental.TypedLoadBalancingConfig {
  readonly metadataKey: string;

  constructor(metadataKey: string = LANE_METADATA_KEY) {
    this.metadataKey = metadataKey;
  }

  getLoadBalancerName(): string {
    return TYPE_NAME;
  }

  toJsonObject(): object {
    return { [TYPE_NAME]: { metadataKey: this.metadataKey } };
  }

  /** grpc-js parses service configs through this; a bad config rejects the service config. */
  static createFromJson(json: unknown): LaneLoadBalancingConfig {
    if (json === undefined || json === null) return new LaneLoadBalancingConfig();
    if (typeof json !== 'object') throw new Error(`${TYPE_NAME} config must be an object`);
    const key = (json as { metadataKey?: unknown }).metadataKey;
    if (key === undefined) return new LaneLoadBalancingConfig();
    if (typeof key !== 'string' || !isTextMetadataKey(key)) {
      throw new Error(`${TYPE_NAME} config: metadataKey ${JSON.stringify(key)} is not a text metadata key`);
    }
    return new LaneLoadBalancingConfig(key);
  }
}

const QUEUE: PickResult = Object.freeze({
  pickResultType: experimental.PickResultType.QUEUE,
  subchannel: null,
  status: null,
  onCallStarted: null,
  onCallEnded: null,
});

// Leaf pickers ignore their arguments; these stand in when we ask one for its subchannel.
const LEAF_PICK_ARGS: PickArgs = { metadata: new Metadata(), extraPickInfo: {} };

/** What the picker knows about one instance: its leaf, state and (when READY) a ready-made result. */
export interface LanePickerEntry {
  readonly leaf: LeafLoadBalancer;
  readonly state: connectivityState;
  readonly result: PickResult | null;
}

/**
 * Chooses, per call, an instance of the call's lane: the lane comes from the call's metadata,
 * the instance from `discovery.choose()` (same fallback rules as `pick()`), the subchannel from
 * the instance. A call is counted (`discovery.countPick(choice)`) only when the picker hands it a
 * subchannel, so a call picked again after it queued counts once; a discovery without
 * `choose`/`countPick` is asked `pick()` instead. Results are built when the picker is, so a
 * pick on a ready instance allocates nothing.
 * Built by {@link LaneLoadBalancer} on every state change; not meant to be built by hand.
 *
 * @experimental
 * @example
 * picker.pick({ metadata, extraPickInfo: {} }); // COMPLETE with the subchannel of a gray instance
 */
export class LanePicker implements experimental.Picker {
  readonly #discovery: LaneDiscovery;
  readonly #service: string;
  readonly #metadataKey: string;
  readonly #byInstance: Map<LaneInstance, LanePickerEntry>;
  readonly #byAddress: Map<string, LanePickerEntry>;
  readonly #attempts: number;
  /** The discovery can choose without counting (`choose` + `countPick`). */
  readonly #countsOnce: boolean;
  /** The discovery can choose another instance of the same routing decision (`chooseAgain`). */
  readonly #choosesAgain: boolean;

  constructor(
    discovery: LaneDiscovery,
    service: string,
    metadataKey: string,
    byInstance: Map<LaneInstance, LanePickerEntry>,
    byAddress: Map<string, LanePickerEntry>,
  ) {
    this.#discovery = discovery;
    this.#service = service;
    this.#metadataKey = metadataKey;
    this.#byInstance = byInstance;
    this.#byAddress = byAddress;
    this.#attempts = Math.max(1, byAddress.size);
    this.#countsOnce = typeof discovery.choose === 'function' && typeof discovery.countPick === 'function';
    this.#choosesAgain = this.#countsOnce && typeof discovery.chooseAgain === 'function';
  }

  pick(pickArgs: PickArgs): PickResult {
    const lane = laneOf(pickArgs.metadata, this.#metadataKey);
    const requested = lane === undefined ? null : lane;
    const discovery = this.#discovery;
    let waiting = false;
    let unreachable: LaneChoice | undefined;
    // A picked instance that is not READY: ask again, at most once per known instance; then
    // queue if one is on its way, else fail. An instance whose subchannel is in
    // TRANSIENT_FAILURE cannot be reached now: the next choice is another instance of the same
    // routing decision (chooseAgain: same bucket, else the next fallback step). One that is
    // CONNECTING is waited for (its lane keeps its calls), unless another is READY.
    for (let attempt = 0; attempt < this.#attempts; attempt++) {
      let instance: LaneInstance;
      let choice: LaneChoice | undefined;
      try {
        if (unreachable !== undefined && this.#choosesAgain) {
          choice = discovery.chooseAgain!(unreachable);
          instance = choice.instance;
        } else if (this.#countsOnce) {
          choice = discovery.choose!(this.#service, requested);
          instance = choice.instance;
        } else {
          instance = discovery.pick(this.#service, requested);
        }
      } catch (error) {
        if (waiting) return QUEUE;
        return unroutable(this.#service, lane, messageOf(error), error);
      }
      const entry = this.#byInstance.get(instance) ?? this.#byAddress.get(addressKey(instance));
      if (entry === undefined) {
        // Discovery already knows an instance the channel has not been told about: the resolver
        // update is on its way and will bring a new picker.
        waiting = true;
        unreachable = undefined;
        continue;
      }
      if (entry.result !== null) {
        // The call goes to this subchannel: count it now, once (not for picks that queued it).
        if (choice !== undefined) discovery.countPick!(choice);
        return entry.result;
      }
      // Reconnect outside the pick (as grpc-js's QueuePicker does): exitIdle may update the state.
      if (entry.state === connectivityState.IDLE) process.nextTick(exitIdle, entry.leaf);
      if (entry.state === connectivityState.TRANSIENT_FAILURE) {
        unreachable = choice;
      } else {
        waiting = true;
        unreachable = undefined;
      }
    }
    if (waiting) return QUEUE;
    return unroutable(this.#service, lane, 'no picked instance is reachable', undefined);
  }
}

// Lane values already validated, so a pick tests the lane grammar once per distinct lane.
const validLanes = new Map<string, Lane>();

function laneOf(metadata: Metadata, key: string): Lane | undefined {
  const values = metadata.get(key);
  if (values.length === 0) return undefined;
  const value = values[0];
  if (typeof value !== 'string') return undefined;
  const known = validLanes.get(value);
  if (known !== undefined) return known;
  const lane = parseLane(value);
  if (lane !== undefined && validLanes.size < MAX_COUNTED_LANES) validLanes.set(lane, lane);
  return lane;
}

function exitIdle(leaf: LeafLoadBalancer): void {
  leaf.exitIdle();
}

function addressKey(instance: LaneInstance): string {
  return `${instance.host}:${instance.port}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function unroutable(service: string, lane: Lane | undefined, reason: string, cause: unknown): PickResult {
  const error = new UnroutableCallError(service, lane, reason, cause === undefined ? undefined : { cause });
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, error.code);
  if (cause instanceof GraylaneError) metadata.set(`${ERROR_CODE_METADATA_KEY}-cause`, cause.code);
  const failure: StatusObject = { code: status.UNAVAILABLE, details: error.message, metadata };
  return {
    pickResultType: experimental.PickResultType.TRANSIENT_FAILURE,
    subchannel: null,
    status: failure,
    onCallStarted: null,
    onCallEnded: null,
  };
}

/**
 * The `graylane_lane` load balancer: one pick-first leaf (one subchannel) per instance address,
 * every lane's instances on the one channel, kept connected like `round_robin` does. A registry
 * change adds and removes leaves by `host:port`, so instances that stay keep their connection and
 * calls in flight on removed ones finish (their HTTP/2 session closes gracefully).
 * Registered by {@link setup}; grpc-js constructs it for channels whose service config names it.
 *
 * @experimental
 * @example
 * experimental.registerLoadBalancerType(LANE_LB_POLICY, LaneLoadBalancer, LaneLoadBalancingConfig);
 */
export class LaneLoadBalancer implements experimental.LoadBalancer {
  readonly #helper: ChannelControlHelper;
  readonly #childHelper: ChannelControlHelper;
  readonly #leaves = new Map<string, LeafLoadBalancer>();
  #discovery: LaneDiscovery | undefined;
  #service = '';
  #instances: readonly LaneInstance[] = [];
  #metadataKey = LANE_METADATA_KEY;
  #paused = false;
  #lastError: string | null = null;
  /** The last state each leaf (`host:port`) reported. */
  readonly #states = new Map<string, connectivityState>();

  constructor(helper: ChannelControlHelper) {
    this.#helper = helper;
    this.#childHelper = experimental.createChildChannelControlHelper(helper, {
      updateState: (_state, _picker, errorMessage) => {
        if (errorMessage) this.#lastError = errorMessage;
        this.#update();
      },
    });
  }

  updateAddressList(
    endpoints: experimental.StatusOr<Endpoint[]>,
    config: experimental.TypedLoadBalancingConfig,
    options: ChannelOptions,
    resolutionNote: string,
  ): boolean {
    if (!(config instanceof LaneLoadBalancingConfig)) return false;
    const discovery = options[DISCOVERY_ATTRIBUTE] as LaneDiscovery | undefined;
    if (discovery === undefined) {
      const details = `${TYPE_NAME} serves graylane:///<service> targets only (registerLaneChannel)`;
      this.#helper.updateState(
        connectivityState.TRANSIENT_FAILURE,
        new experimental.UnavailablePicker({ code: status.UNAVAILABLE, details }),
        details,
      );
      return true;
    }
    if (!endpoints.ok) {
      // Keep serving the last good list; fail only when there is none.
      if (this.#leaves.size === 0) {
        this.#helper.updateState(
          connectivityState.TRANSIENT_FAILURE,
          new experimental.UnavailablePicker(endpoints.error),
          endpoints.error.details,
        );
      }
      return true;
    }
    this.#discovery = discovery;
    this.#service = options[SERVICE_ATTRIBUTE] as string;
    this.#instances = (options[INSTANCES_ATTRIBUTE] as readonly LaneInstance[] | undefined) ?? [];
    this.#metadataKey = config.metadataKey;
    this.#paused = true;
    const seen = new Set<string>();
    for (const endpoint of endpoints.value) {
      const address = endpoint.addresses[0];
      if (address === undefined || !('port' in address)) continue;
      const key = `${address.host}:${address.port}`;
      seen.add(key);
      if (this.#leaves.has(key)) continue;
      const leaf = new experimental.LeafLoadBalancer(endpoint, this.#helperFor(key), options, resolutionNote);
      this.#leaves.set(key, leaf);
      leaf.startConnecting();
    }
    for (const [key, leaf] of this.#leaves) {
      if (seen.has(key)) continue;
      this.#leaves.delete(key);
      this.#states.delete(key);
      leaf.destroy();
    }
    this.#paused = false;
    this.#update();
    return true;
  }

  /**
   * The channel helper of one leaf: its state reports feed outlier ejection. A pick-first leaf
   * reports TRANSIENT_FAILURE once per failed connection attempt (also while it stays in
   * TRANSIENT_FAILURE and reconnects with backoff): each is a connect failure of the instance;
   * READY after anything else ends the streak (and probation).
   */
  #helperFor(key: string): ChannelControlHelper {
    return experimental.createChildChannelControlHelper(this.#childHelper, {
      updateState: (state, picker, errorMessage) => {
        const before = this.#states.get(key);
        this.#states.set(key, state);
        if (state === connectivityState.TRANSIENT_FAILURE) this.#reportOutcome(key, 'connect-failure');
        else if (state === connectivityState.READY && before !== connectivityState.READY) {
          this.#reportOutcome(key, 'success');
        }
        this.#childHelper.updateState(state, picker, errorMessage);
      },
    });
  }

  #reportOutcome(key: string, outcome: 'success' | 'connect-failure'): void {
    const discovery = this.#discovery;
    if (discovery === undefined || typeof discovery.reportOutcome !== 'function') return;
    for (const instance of this.#instances) {
      if (addressKey(instance) === key) discovery.reportOutcome(this.#service, instance, outcome);
    }
  }

  /** Builds the picker for the current leaves and reports the aggregate state. */
  #update(): void {
    if (this.#paused || this.#discovery === undefined) return;
    const byAddress = new Map<string, LanePickerEntry>();
    let ready = 0;
    let connecting = 0;
    let idle: LeafLoadBalancer[] | undefined;
    for (const [key, leaf] of this.#leaves) {
      const state = leaf.getConnectivityState();
      let result: PickResult | null = null;
      if (state === connectivityState.READY) {
        const subchannel = leaf.getPicker().pick(LEAF_PICK_ARGS).subchannel;
        if (subchannel !== null) {
          ready++;
          result = {
            pickResultType: experimental.PickResultType.COMPLETE,
            subchannel,
            status: null,
            onCallStarted: null,
            onCallEnded: null,
          };
        }
      } else if (state === connectivityState.CONNECTING) {
        connecting++;
      } else if (state === connectivityState.IDLE) {
        // Keep every instance connected, as round_robin does; reconnect after the state is out.
        if (idle === undefined) idle = [];
        idle.push(leaf);
        connecting++;
      }
      byAddress.set(key, { leaf, state, result });
    }
    const discovery = this.#discovery;
    const service = this.#service;
    const byInstance = new Map<LaneInstance, LanePickerEntry>();
    for (const instance of this.#instances) {
      const entry = byAddress.get(addressKey(instance));
      if (entry === undefined) continue;
      byInstance.set(instance, withAccounting(entry, discovery, service, instance));
    }
    const picker = new LanePicker(discovery, service, this.#metadataKey, byInstance, byAddress);
    if (ready > 0) {
      this.#helper.updateState(connectivityState.READY, picker, null);
    } else if (connecting > 0) {
      this.#helper.updateState(connectivityState.CONNECTING, picker, null);
    } else {
      const details =
        this.#leaves.size === 0
          ? `no instances of ${service}`
          : `no instance of ${service} reachable; last error: ${this.#lastError}`;
      this.#helper.updateState(connectivityState.TRANSIENT_FAILURE, picker, details);
    }
    if (idle !== undefined) for (const leaf of idle) leaf.exitIdle();
  }

  exitIdle(): void {
    for (const leaf of this.#leaves.values()) leaf.exitIdle();
  }

  resetBackoff(): void {
    // Leaves own their backoff; grpc-js offers no reset on them.
  }

  destroy(): void {
    for (const leaf of this.#leaves.values()) leaf.destroy();
    this.#leaves.clear();
    this.#discovery = undefined;
  }

  getTypeName(): string {
    return TYPE_NAME;
  }
}

/** Adds discovery's outstanding-request accounting to a READY entry's result. */
function withAccounting(
  entry: LanePickerEntry,
  discovery: LaneDiscovery,
  service: string,
  instance: LaneInstance,
): LanePickerEntry {
  const result = entry.result;
  if (result === null || typeof discovery.report !== 'function') return entry;
  const report = discovery.report.bind(discovery);
  const outcome =
    typeof discovery.reportOutcome === 'function' ? discovery.reportOutcome.bind(discovery) : null;
  return {
    leaf: entry.leaf,
    state: entry.state,
    result: {
      pickResultType: result.pickResultType,
      subchannel: result.subchannel,
      status: null,
      onCallStarted: () => report(service, instance, 'start'),
      onCallEnded: (code: status) => {
        report(service, instance, 'end');
        if (outcome !== null && code !== status.CANCELLED) outcome(service, instance, callOutcome(code));
      },
    },
  };
}

/**
 * A finished call's outcome for outlier ejection: UNAVAILABLE is a server error (ejects only with
 * `consecutive5xx` set), DEADLINE_EXCEEDED a timeout, any other answer ends a failure streak.
 */
function callOutcome(code: status): 'success' | 'timeout' | 'server-error' {
  if (code === status.UNAVAILABLE) return 'server-error';
  if (code === status.DEADLINE_EXCEEDED) return 'timeout';
  return 'success';
}

let registered = false;

/**
 * Registers the `graylane_lane` policy with grpc-js (`experimental.registerLoadBalancerType`).
 * Idempotent; `registerLaneChannel()` calls it.
 */
export function setup(): void {
  if (registered) return;
  experimental.registerLoadBalancerType(TYPE_NAME, LaneLoadBalancer, LaneLoadBalancingConfig);
  registered = true;
}
