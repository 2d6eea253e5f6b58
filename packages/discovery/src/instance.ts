/**
 * A callable instance of a service. Its lane is read from its labels (see `laneLabels`).
 * Instances handed out by graylane are frozen.
 */
export interface Instance {
  /** Unique within its service. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Relative weight within its lane, >= 0. Default 100. */
  readonly weight: number;
  /** Unhealthy instances are never picked. Default true. */
  readonly healthy: boolean;
}

/** An instance as users declare it; `id` defaults to `host:port`, `weight` to 100, `healthy` to true. */
export interface InstanceInit {
  readonly id?: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly weight?: number | undefined;
  readonly healthy?: boolean | undefined;
}

/** An instance declaration that names its service (static files, self-registration). */
export interface ServiceInstanceInit extends InstanceInit {
  readonly service: string;
}

/** Default instance weight. */
export const DEFAULT_WEIGHT = 100;
