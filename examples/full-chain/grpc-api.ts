// svc-b's gRPC API (chain.proto), loaded at runtime with @grpc/proto-loader, with the types the
// demo uses.
import { join } from 'node:path';
import {
  type CallOptions,
  type Client,
  type ClientUnaryCall,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Hop } from './instance';

/** A hop on the wire: proto3 strings, empty for "none". */
export interface WireHop {
  service: string;
  instance: string;
  lane: string;
  tag: string;
}

export interface Walk {
  hops: WireHop[];
}

/** The generated svc-b client, typed for `Visit`. */
export interface SvcBClient extends Client {
  Visit(
    request: Record<string, never>,
    options: CallOptions,
    callback: (error: ServiceError | null, walk?: Walk) => void,
  ): ClientUnaryCall;
}

/** Loads chain.proto; `SvcB.service` is the service definition, `new SvcB(target, ...)` a client. */
export function loadChainProto(): { SvcB: ServiceClientConstructor } {
  const definition = loadSync(join(__dirname, 'chain.proto'), { keepCase: true, defaults: true });
  const fullchain = loadPackageDefinition(definition).fullchain as GrpcObject;
  return { SvcB: fullchain.SvcB as ServiceClientConstructor };
}

export function toWire(hop: Hop): WireHop {
  return { service: hop.service, instance: hop.instance, lane: hop.lane ?? '', tag: hop.tag ?? '' };
}

export function toHop(hop: WireHop): Hop {
  return { service: hop.service, instance: hop.instance, lane: hop.lane || null, tag: hop.tag || null };
}
