// The ranking service's proto: where it is and how it is loaded. Shared by
// the server, its clients (the command-line client, the evaluator, tests)
// and server reflection; it loads nothing of the engine.
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

export const SERVICE_NAME = 'ranking.v1.RankingService';
/** The directory that proto imports and file names are relative to. */
export const PROTO_ROOT = path.join(__dirname, '..', '..', '..', 'proto');
export const PROTO = path.join(PROTO_ROOT, 'ranking', 'v1', 'ranking.proto');
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export function loadProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO, LOADER_OPTIONS);
}
