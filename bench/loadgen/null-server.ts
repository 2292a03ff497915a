// A bare grpc-js server with the ranking service's proto whose Rank answers
// INVALID_ARGUMENT at once: the transport's own cost, for bench/loadgen/floor.js.
//
//   node dist/bench/loadgen/null-server.js PORT
import * as grpc from '@grpc/grpc-js';

import { loadProto } from '../../src/api/service';

const port = Number(process.argv[2]);
const pkg = grpc.loadPackageDefinition(loadProto()) as unknown as { ranking: { v1: { RankingService: grpc.ServiceClientConstructor } } };
const server = new grpc.Server();
server.addService(pkg.ranking.v1.RankingService.service, {
  Rank: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.INVALID_ARGUMENT, details: 'user_id must be set' }),
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => server.forceShutdown());
