import { currentLane } from '@graylane/core';
import { laneServerInterceptor } from '@graylane/grpc';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

// greeter.proto (below) in the working directory; no __dirname, so the file runs as CommonJS and as ESM.
const demo = grpc.loadPackageDefinition(loadSync('greeter.proto')).demo as grpc.GrpcObject;
const sayHello: grpc.handleUnaryCall<{ name: string }, { message: string }> = (call, reply) =>
  reply(null, { message: `hello ${call.request.name} from lane ${currentLane() ?? 'base'}` });

const server = new grpc.Server({ interceptors: [laneServerInterceptor()] }); // handlers run in the call's lane
server.addService((demo.Greeter as grpc.ServiceClientConstructor).service, { SayHello: sayHello });
server.bindAsync(`0.0.0.0:${process.env.PORT ?? 50051}`, grpc.ServerCredentials.createInsecure(), () => {});
