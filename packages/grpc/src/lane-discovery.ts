/**
 * The instance fields the lane channel reads. A `@graylane/discovery` `Instance` has them all;
 * declared here so this package's types do not need the optional discovery package.
 *
 * @example
 * const instance: LaneInstance = { host: '10.0.0.2', port: 50051, healthy: true, weight: 100 };
 */
export interface LaneInstance {
  readonly host: string;
  readonly port: number;
  /** Unhealthy instances get no subchannel (discovery never picks them). */
  readonly healthy: boolean;
  /** Instances of weight 0 get no subchannel (discovery never picks them). Default 100. */
  readonly weight?: number;
}

/**
 * What the lane channel needs from a `@graylane/discovery` instance (`createDiscovery()` returns
 * one). Any object with these methods works.
 *
 * @example
 * const discovery: LaneDiscovery = createDiscovery({ registry: staticRegistry({ instances }) });
 */
export interface LaneDiscovery {
  /** The instance for one call of `lane` (`null` = base lane), with discovery's fallback rules. Throws when none. */
  pick(service: string, lane?: string | null): LaneInstance;
  /** The current instances of `service`, every lane. */
  instances(service: string): readonly LaneInstance[];
  /** Calls `listener` with the full instance set on every change; returns an unsubscribe function. */
  watch(service: string, listener: (instances: readonly LaneInstance[]) => void): () => void;
  /** Settles once the first instance set of `service` is known. */
  ready(service: string): Promise<unknown>;
  /** Outstanding-request accounting (power-of-two-choices). Optional. */
  report?(service: string, instance: LaneInstance, event: 'start' | 'end'): void;
  /**
   * `pick()` without counting, returning the choice, and the count of the one choice a call went
   * with. Optional (both or neither): with them the picker counts each call once, when it hands
   * the call a subchannel; without them it uses `pick()`, which counts a call again each time
   * grpc-js picks it again.
   */
  choose?(service: string, lane?: string | null): LaneChoice;
  countPick?(choice: LaneChoice): void;
  /**
   * Another choice for a call whose chosen instance cannot be reached now (its subchannel is in
   * TRANSIENT_FAILURE): the same lane bucket, else the next fallback step. Optional; throws when none.
   */
  chooseAgain?(choice: LaneChoice): LaneChoice;
  /**
   * Call and connection outcomes for outlier ejection: a subchannel's failed connection attempt
   * (`connect-failure`), a connection made (`success`), a call's `UNAVAILABLE` (`server-error`).
   * Optional.
   */
  reportOutcome?(
    service: string,
    instance: LaneInstance,
    outcome: 'success' | 'connect-failure' | 'timeout' | 'server-error',
  ): void;
}

/**
 * What `LaneDiscovery.choose()` returns: at least the chosen instance. The picker hands the same
 * value back to `countPick()`.
 *
 * @example
 * const choice: LaneChoice = discovery.choose('svc-b', 'gray');
 * choice.instance.port; // 50051
 */
export interface LaneChoice {
  readonly instance: LaneInstance;
}
