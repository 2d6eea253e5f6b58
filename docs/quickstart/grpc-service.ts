import { join } from 'node:path';
import { currentLane } from '@graylane/core';
import { laneServerInterceptor } from '@graylane/grpc';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const demo = grpc.loadPackageDefinition(loadSync(join(__dirname, 'greeter.proto'))).demo as grpc.GrpcObject;
const sayHello: grpc.handleUnaryCall<{ name: string }, { message: string }> = (call, reply) =>
  reply(null, { message: `hello ${call.request.name} from lane ${currentLane() ?? 'base'}` });

const server = new grpc.Server({ interceptors: [laneServerInterceptor()] }); // handlers run in the call's lane
server.addService((demo.Greeter as grpc.ServiceClientConstructor).service, { SayHello: sayHello });
server.bindAsync(`0.0.0.0:${process.env.PORT ?? 50051}`, grpc.ServerCredentials.createInsecure(), () => {});
