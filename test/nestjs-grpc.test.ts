// NestJS's gRPC transport in lanes with @graylane/grpc's interceptors and no glue: Nest passes the
// transport's `channelOptions` to grpc-js (`new Server(options)` on the server, the client
// constructor's options on ClientGrpc), and grpc-js reads `interceptors` from both.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentLane, withLane } from '@graylane/core';
import { laneClientInterceptor, laneServerInterceptor } from '@graylane/grpc';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  type ClientGrpc,
  ClientProxyFactory,
  GrpcMethod,
  type GrpcOptions,
  Transport,
} from '@nestjs/microservices';
import { firstValueFrom, type Observable } from 'rxjs';

const protoPath = join(__dirname, '..', 'docs', 'quickstart', 'greeter.proto');

interface Greeter {
  sayHello(request: { name: string }, metadata?: grpc.Metadata): Observable<{ message: string }>;
}

class GreeterController {
  async sayHello(request: { name: string }): Promise<{ message: string }> {
    await sleep(1);
    return { message: `${request.name} in ${currentLane() ?? '(base)'}` };
  }
}
GrpcMethod('Greeter', 'SayHello')(
  GreeterController.prototype,
  'sayHello',
  Object.getOwnPropertyDescriptor(GreeterController.prototype, 'sayHello')!,
);
Controller()(GreeterController);
class GreeterModule {}
Module({ controllers: [GreeterController] })(GreeterModule);

async function freeGrpcPort(): Promise<number> {
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  server.forceShutdown();
  return port;
}

test('NestJS gRPC transport: handlers run in the call lane; ClientGrpc calls made in a lane carry it', async (t) => {
  const url = `127.0.0.1:${await freeGrpcPort()}`;
  const options: GrpcOptions['options'] = { package: 'demo', protoPath, url };
  const app: INestMicroservice = await NestFactory.createMicroservice<GrpcOptions>(GreeterModule, {
    transport: Transport.GRPC,
    options: { ...options, channelOptions: { interceptors: [laneServerInterceptor()] } },
    logger: false,
  });
  await app.listen();
  t.after(() => app.close());

  const client = ClientProxyFactory.create({
    transport: Transport.GRPC,
    options: { ...options, channelOptions: { interceptors: [laneClientInterceptor()] } },
  }) as unknown as ClientGrpc & { close(): void };
  t.after(() => client.close());
  const greeter = client.getService<Greeter>('Greeter');

  const inLane = await withLane('gray', () => firstValueFrom(greeter.sayHello({ name: 'a' })));
  assert.equal(inLane.message, 'a in gray');
  assert.equal((await firstValueFrom(greeter.sayHello({ name: 'b' }))).message, 'b in (base)');

  // A plain grpc-js client sending the tag itself; an invalid tag is ignored.
  const demo = grpc.loadPackageDefinition(loadSync(protoPath)).demo as grpc.GrpcObject;
  const Plain = demo.Greeter as grpc.ServiceClientConstructor;
  const plain = new Plain(url, grpc.credentials.createInsecure());
  t.after(() => plain.close());
  const say = (tag: string) =>
    new Promise<string>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-mse-tag', tag);
      plain.sayHello({ name: 'c' }, metadata, (err: Error | null, reply: { message: string }) =>
        err ? reject(err) : resolve(reply.message),
      );
    });
  assert.equal(await say('feature-x'), 'c in feature-x');
  assert.equal(await say('-bad'), 'c in (base)');
});
