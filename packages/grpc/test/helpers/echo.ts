import { once } from 'node:events';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { currentLane } from '@graylane/core';
import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type ClientOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ClientWritableStream,
  credentials,
  type GrpcObject,
  type Interceptor,
  loadPackageDefinition,
  Metadata,
  type requestCallback,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerInterceptor,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceClientConstructor,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export interface EchoRequest {
  message?: string;
  count?: number;
  delay_ms?: number;
}

export interface EchoReply {
  lane: string;
  served_by: string;
  message: string;
  downstream_lane: string;
  peer: string;
}

/** The generated Echo client, typed for the four methods of test/fixtures/echo.proto. */
export interface EchoClient extends Client {
  Unary(req: EchoRequest, md: Metadata, cb: requestCallback<EchoReply>): ClientUnaryCall;
  Unary(
    req: EchoRequest,
    md: Metadata,
    options: CallOptions,
    cb: requestCallback<EchoReply>,
  ): ClientUnaryCall;
  ServerStream(req: EchoRequest, md: Metadata): ClientReadableStream<EchoReply>;
  ClientStream(md: Metadata, cb: requestCallback<EchoReply>): ClientWritableStream<EchoRequest>;
  Bidi(md: Metadata): ClientDuplexStream<EchoRequest, EchoReply>;
}

const definition = loadSync(join(__dirname, '..', 'fixtures', 'echo.proto'), {
  keepCase: true,
  defaults: true,
  longs: Number,
});
const echo = ((loadPackageDefinition(definition).graylane as GrpcObject).test as GrpcObject)
  .Echo as ServiceClientConstructor;

/** The Echo client constructor. */
export const EchoClient = echo as unknown as new (
  address: string,
  creds: ChannelCredentials,
  options?: ClientOptions,
) => EchoClient;

/** The lane as a reply field: `''` for the base lane. */
export function laneName(): string {
  return currentLane() ?? '';
}

export interface EchoServerOptions {
  /** Reported as `served_by`. */
  readonly name: string;
  readonly interceptors?: ServerInterceptor[];
  /** Called by every handler after an await; its result is `downstream_lane`. */
  readonly downstream?: () => Promise<string>;
  /** Sees the lane of every handler invocation (concurrency checks). */
  readonly onCall?: (lane: string, request: EchoRequest) => void;
  /** Sees the request metadata of every call. */
  readonly onMetadata?: (metadata: Metadata) => void;
  /** Called from a bidi call's `cancelled` event with the lane it runs in. */
  readonly onCancelled?: (lane: string) => void;
  /** Port to bind on 127.0.0.1. Default 0 (ephemeral). */
  readonly port?: number;
}

/**
 * An Echo server on 127.0.0.1:0 whose handlers report the lane they run in: `lane` after an
 * await, `message` lists the lane seen in each stream event (`data:gray,end:gray`).
 */
export async function startEchoServer(
  options: EchoServerOptions,
  t?: TestContext,
): Promise<{ port: number; address: string; server: Server }> {
  const { name, downstream, onCall, onMetadata, onCancelled } = options;
  const server = new Server({ interceptors: options.interceptors ?? [] });
  const call = async (): Promise<string> => (downstream === undefined ? '' : downstream());
  server.addService(echo.service, {
    async Unary(req: ServerUnaryCall<EchoRequest, EchoReply>, cb: sendUnaryData<EchoReply>) {
      const atStart = laneName();
      onCall?.(atStart, req.request);
      onMetadata?.(req.metadata);
      await tick();
      if (req.request.delay_ms) await new Promise((resolve) => setTimeout(resolve, req.request.delay_ms));
      const downstreamLane = await call();
      cb(null, {
        lane: laneName(),
        served_by: name,
        message: `start:${atStart}`,
        downstream_lane: downstreamLane,
        peer: req.getPeer(),
      });
    },
    async ServerStream(req: ServerWritableStream<EchoRequest, EchoReply>) {
      const atStart = laneName();
      onCall?.(atStart, req.request);
      onMetadata?.(req.metadata);
      const downstreamLane = await call();
      const count = req.request.count || 2;
      for (let i = 0; i < count; i++) {
        await tick();
        req.write({
          lane: laneName(),
          served_by: name,
          message: `start:${atStart}`,
          downstream_lane: downstreamLane,
          peer: req.getPeer(),
        });
      }
      req.end();
    },
    ClientStream(req: ServerReadableStream<EchoRequest, EchoReply>, cb: sendUnaryData<EchoReply>) {
      const events = [`start:${laneName()}`];
      onMetadata?.(req.metadata);
      req.on('data', () => events.push(`data:${laneName()}`));
      req.on('end', async () => {
        events.push(`end:${laneName()}`);
        onCall?.(laneName(), {});
        await tick();
        const downstreamLane = await call();
        cb(null, {
          lane: laneName(),
          served_by: name,
          message: events.join(','),
          downstream_lane: downstreamLane,
          peer: req.getPeer(),
        });
      });
    },
    Bidi(req: ServerDuplexStream<EchoRequest, EchoReply>) {
      const atStart = laneName();
      onMetadata?.(req.metadata);
      req.on('cancelled', () => onCancelled?.(laneName()));
      const pending: Promise<void>[] = [];
      req.on('data', (message: EchoRequest) => {
        const seen = laneName();
        onCall?.(seen, message);
        pending.push(
          (async () => {
            await tick();
            const downstreamLane = await call();
            req.write({
              lane: laneName(),
              served_by: name,
              message: `start:${atStart},data:${seen}`,
              downstream_lane: downstreamLane,
              peer: req.getPeer(),
            });
          })(),
        );
      });
      req.on('end', async () => {
        const atEnd = laneName();
        await Promise.all(pending);
        req.write({
          lane: laneName(),
          served_by: name,
          message: `end:${atEnd}`,
          downstream_lane: '',
          peer: req.getPeer(),
        });
        req.end();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  t?.after(() => server.forceShutdown());
  return { port, address: `127.0.0.1:${port}`, server };
}

/** An Echo client closed in `t.after`. */
export function echoClient(target: string, options: ClientOptions, t?: TestContext): EchoClient {
  const client = new EchoClient(target, credentials.createInsecure(), options);
  t?.after(() => client.close());
  return client;
}

/**
 * An Echo server (`served_by` b) with the `server` interceptors that records the request metadata
 * of every call in `seen`, and a client on it with the `client` interceptors (more clients can use
 * `address`). Closed in `t.after`.
 */
export async function startEchoPair(
  t: TestContext,
  interceptors: { readonly server?: ServerInterceptor[]; readonly client?: Interceptor[] },
): Promise<{ client: EchoClient; seen: Metadata[]; address: string }> {
  const seen: Metadata[] = [];
  const { address } = await startEchoServer(
    { name: 'b', interceptors: interceptors.server, onMetadata: (metadata) => seen.push(metadata) },
    t,
  );
  const client = echoClient(address, { interceptors: interceptors.client }, t);
  return { client, seen, address };
}

function metadataOf(entries: Record<string, string> = {}): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return metadata;
}

/** One unary call. `metadata` entries are set on the call as given. */
export function unary(
  client: EchoClient,
  request: EchoRequest = {},
  metadata?: Record<string, string>,
): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    client.Unary(request, metadataOf(metadata), (error: ServiceError | null, reply?: EchoReply) =>
      error ? reject(error) : resolve(reply!),
    );
  });
}

/** One server-streaming call; resolves with every reply. */
export async function serverStream(
  client: EchoClient,
  request: EchoRequest = {},
  metadata?: Record<string, string>,
): Promise<EchoReply[]> {
  const replies: EchoReply[] = [];
  const stream = client.ServerStream(request, metadataOf(metadata));
  stream.on('data', (reply: EchoReply) => replies.push(reply));
  await once(stream, 'end');
  return replies;
}

/** One client-streaming call sending `count` messages. */
export function clientStream(
  client: EchoClient,
  count = 2,
  metadata?: Record<string, string>,
): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    const stream = client.ClientStream(
      metadataOf(metadata),
      (error: ServiceError | null, reply?: EchoReply) => (error ? reject(error) : resolve(reply!)),
    );
    for (let i = 0; i < count; i++) stream.write({ message: String(i) });
    stream.end();
  });
}

/** One bidi call sending `count` messages; resolves with every reply (the last is the `end` reply). */
export async function bidi(
  client: EchoClient,
  count = 2,
  metadata?: Record<string, string>,
): Promise<EchoReply[]> {
  const replies: EchoReply[] = [];
  const stream = client.Bidi(metadataOf(metadata));
  stream.on('data', (reply: EchoReply) => replies.push(reply));
  for (let i = 0; i < count; i++) stream.write({ message: String(i) });
  stream.end();
  await once(stream, 'end');
  return replies;
}
