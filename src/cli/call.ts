#!/usr/bin/env node
// ranking-call: a command-line client of the ranking server, built on the
// project's proto. Calls a RankingService method with a request in proto3
// JSON (parsed as the HTTP gateway parses it: proto or JSON field names,
// enums by name or number), checks grpc.health.v1, lists the services
// through server reflection. Prints responses in proto3 JSON (proto field
// names); on a gRPC error, prints "STATUS_NAME: message" and exits 1 (2 for a
// usage error, a request that does not fit the proto among them).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

import { ServiceError } from '../api/errors';
import { LOADER_OPTIONS, loadProto, SERVICE_NAME } from '../api/proto';
import { createJsonCodec, JsonCodec } from '../api/proto-json';
import { REFLECTION_PROTOS } from '../api/reflection';

const USAGE = `Usage: ranking-call [options] <command> [json]

Commands:
  Rank <json>            ranking.v1.RankingService methods, with a JSON request
  RecordEvents <json>    (proto field names, enums by name); "-" or no json
  UpsertItems <json>     reads it from stdin. UpsertItems, DeleteItems and
  DeleteItems <json>     ReloadBundle are admin calls (--token).
  ReloadBundle <json>
  health [service]       grpc.health.v1 Check ('' = the whole server)
  list                   the services the server runs (server reflection)

Options:
  --address <host:port>  server address (default localhost:50051)
  --token <token>        admin bearer token ("authorization: Bearer <token>")
  --deadline-ms <ms>     call deadline (default 10000)
  --ca <file>            TLS: verify the server against this CA (PEM)
  --cert <file>          TLS: client certificate (PEM), with --key
  --key <file>           TLS: client private key (PEM), with --cert
  --tls                  TLS with the system's CAs (implied by --ca, --cert)
  --server-name <name>   TLS: the name expected in the server certificate
  -h, --help             this help

Examples:
  npm run call -- Rank '{"user_id":"user-000005","num_results":5}'
  npm run call -- --token "$ADMIN_TOKEN" ReloadBundle '{"path":"v2"}'
  npm run call -- health`;

/** A mistake in the command line: printed with the usage hint, exit code 2. */
class UsageError extends Error {}

interface Options {
  address: string;
  token?: string;
  deadlineMs: number;
  ca?: string;
  cert?: string;
  key?: string;
  tls: boolean;
  serverName?: string;
}

type MethodDef = grpc.MethodDefinition<object, object>;

async function credentials(o: Options): Promise<grpc.ChannelCredentials> {
  if (!o.tls && !o.ca && !o.cert && !o.key) return grpc.credentials.createInsecure();
  if (Boolean(o.cert) !== Boolean(o.key)) throw new UsageError('--cert and --key go together');
  const read = async (file: string | undefined, what: string) => {
    if (!file) return null;
    try {
      return await fs.readFile(file);
    } catch (err) {
      throw new UsageError(`${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return grpc.credentials.createSsl(await read(o.ca, '--ca'), await read(o.key, '--key'), await read(o.cert, '--cert'));
}

function channelOptions(o: Options): grpc.ChannelOptions {
  return o.serverName ? { 'grpc.ssl_target_name_override': o.serverName, 'grpc.default_authority': o.serverName } : {};
}

function unary(client: grpc.Client, def: grpc.MethodDefinition<object, object>, req: object, o: Options, metadata = new grpc.Metadata()): Promise<object> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, metadata, { deadline: Date.now() + o.deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res as object),
    ),
  );
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** The request of a method call, from its proto3 JSON (the argument, or stdin for "-" or none). */
async function request(codec: JsonCodec, method: string, arg: string | undefined): Promise<object> {
  const text = arg === undefined || arg === '-' ? await readStdin() : arg;
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? '{}' : text);
  } catch (err) {
    throw new UsageError(`${method}: the request is not valid JSON (${(err as Error).message})`);
  }
  try {
    return codec.request(method, value) as object;
  } catch (err) {
    if (err instanceof ServiceError) throw new UsageError(`${method}: ${err.message}`);
    throw err;
  }
}

async function listServices(client: grpc.Client, o: Options): Promise<string[]> {
  const def = protoLoader.loadSync(path.join(REFLECTION_PROTOS, 'grpc', 'reflection', 'v1', 'reflection.proto'), LOADER_OPTIONS);
  const info = (def['grpc.reflection.v1.ServerReflection'] as unknown as Record<string, grpc.MethodDefinition<object, object>>).ServerReflectionInfo;
  return new Promise<string[]>((resolve, reject) => {
    const call = client.makeBidiStreamRequest(info.path, info.requestSerialize, info.responseDeserialize, new grpc.Metadata(), { deadline: Date.now() + o.deadlineMs });
    let done = false;
    const finish = (err: Error | null, names: string[] = []) => {
      if (done) return;
      done = true;
      call.cancel();
      if (err) reject(err);
      else resolve(names);
    };
    call.on('data', (msg: { list_services_response?: { service?: { name: string }[] }; error_response?: { error_code: number; error_message: string } }) => {
      if (msg.error_response) finish(Object.assign(new Error(msg.error_response.error_message), { code: msg.error_response.error_code, details: msg.error_response.error_message }));
      else finish(null, (msg.list_services_response?.service ?? []).map((s) => s.name));
    });
    call.on('error', (err: Error) => finish(err));
    call.on('end', () => finish(new Error('the reflection stream ended without an answer')));
    call.write({ host: '', list_services: '*' });
    call.end();
  });
}

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        address: { type: 'string', default: 'localhost:50051' },
        token: { type: 'string' },
        'deadline-ms': { type: 'string', default: '10000' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        tls: { type: 'boolean', default: false },
        'server-name': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const deadlineMs = Number(v['deadline-ms']);
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) throw new UsageError(`--deadline-ms must be a positive number of milliseconds, got ${JSON.stringify(v['deadline-ms'])}`);
  const o: Options = { address: v.address ?? 'localhost:50051', token: v.token, deadlineMs, ca: v.ca, cert: v.cert, key: v.key, tls: v.tls ?? false, serverName: v['server-name'] };
  const [command, arg, ...rest] = positionals;
  if (!command) throw new UsageError('no command given');
  if (rest.length > 0) throw new UsageError(`unexpected arguments after the request: ${rest.join(' ')} (quote the JSON)`);

  const def = loadProto();
  const methods = def[SERVICE_NAME] as unknown as Record<string, MethodDef>;
  // "Rank", "rank" or "ranking.v1.RankingService/Rank".
  const name = command.slice(command.lastIndexOf('/') + 1);
  const method = Object.keys(methods).find((k) => k.toLowerCase() === name.toLowerCase());
  if (!method && command !== 'health' && command !== 'list') {
    throw new UsageError(`unknown command ${JSON.stringify(command)}: one of ${[...Object.keys(methods), 'health', 'list'].join(', ')}`);
  }
  const codec = createJsonCodec(def, SERVICE_NAME);
  const req = method ? await request(codec, method, arg) : undefined;
  const client = new grpc.Client(o.address, await credentials(o), channelOptions(o));
  try {
    if (method && req) {
      const metadata = new grpc.Metadata();
      if (o.token) metadata.set('authorization', `Bearer ${o.token}`);
      const res = await unary(client, methods[method], req, o, metadata);
      process.stdout.write(`${JSON.stringify(codec.response(method, res, 'proto'), null, 2)}\n`);
    } else if (command === 'health') {
      const res = await unary(client, (healthService as unknown as Record<string, grpc.MethodDefinition<object, object>>).Check, { service: arg ?? '' }, o);
      process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    } else {
      for (const s of await listServices(client, o)) process.stdout.write(`${s}\n`);
    }
    return 0;
  } finally {
    client.close();
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`ranking-call: ${err.message}\n(ranking-call --help for usage)\n`);
      process.exitCode = 2;
      return;
    }
    const e = err as Partial<grpc.ServiceError>;
    if (typeof e.code === 'number') {
      process.stderr.write(`${grpc.status[e.code] ?? `status ${e.code}`}: ${e.details ?? e.message}\n`);
    } else {
      process.stderr.write(`ranking-call: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = 1;
  },
);
