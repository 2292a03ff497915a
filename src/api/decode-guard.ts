// Request messages that do not decode are the client's fault: they get
// INVALID_ARGUMENT naming the method and message type, never grpc-js's
// INTERNAL "Error deserializing request".
//
// Two places fail before a handler runs:
// - deserialization: guardDeserializers() wraps a service's request
//   deserializers so they never throw. They check the wire format strictly
//   (wire-check.ts), then decode; a failure yields an UndecodableMessage that
//   the unary wrapper answers with INVALID_ARGUMENT (and counts).
// - decompression (a compressed frame whose payload is not valid gzip or
//   deflate), and deserialization in services whose definitions come from
//   libraries (health, reflection): grpc-js's base call sends INTERNAL itself,
//   straight to the stream, past every interceptor's responder. The
//   interceptor below therefore installs its status hook on the call it
//   wraps, which is the base call when it is the server's first interceptor.
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';

import { ServiceError, toStatus } from './errors';
import { checkWire, wireSchema } from './wire-check';

type Status = Parameters<grpc.ServerInterceptingCallInterface['sendStatus']>[0];

/** What a guarded deserializer returns for bytes that are not a valid request message. */
export class UndecodableMessage {
  constructor(
    /** Full name of the request message type. */
    readonly typeName: string,
    readonly reason: string,
  ) {}
}

/** The INVALID_ARGUMENT error for a request message of `method` that did not decode. */
export function undecodable(method: string, typeName: string, reason: string): ServiceError {
  return new ServiceError('BAD_MESSAGE', `${method}: the request message (${typeName}) could not be decoded: ${reason}`);
}

/** The full name of a method's request type, found among the package definition's messages. */
function requestTypeName(def: protoLoader.PackageDefinition, serviceName: string, method: protoLoader.MethodDefinition<object, object>): string {
  const short = (method.requestType as { type?: { name?: string } }).type?.name ?? '';
  const pkg = serviceName.slice(0, serviceName.lastIndexOf('.'));
  if (pkg && `${pkg}.${short}` in def) return `${pkg}.${short}`;
  const matches = Object.keys(def).filter((k) => k === short || k.endsWith(`.${short}`));
  return matches.length === 1 ? matches[0] : short;
}

/** The full request type name of each method of service `serviceName`, by method path. */
export function requestTypes(def: protoLoader.PackageDefinition, serviceName: string): Map<string, string> {
  const service = def[serviceName] as protoLoader.ServiceDefinition | undefined;
  if (!service) throw new Error(`no service ${serviceName} in the package definition`);
  return new Map(Object.values(service).map((m) => [m.path, requestTypeName(def, serviceName, m)]));
}

/**
 * A copy of `def` in which the request deserializers of service
 * `serviceName` never throw: bytes that are not a well-formed message of the
 * request type decode to an UndecodableMessage.
 */
export function guardDeserializers(def: protoLoader.PackageDefinition, serviceName: string): protoLoader.PackageDefinition {
  const service = def[serviceName] as protoLoader.ServiceDefinition | undefined;
  if (!service) throw new Error(`no service ${serviceName} in the package definition`);
  const schema = wireSchema(def);
  const guarded: protoLoader.ServiceDefinition = {};
  for (const [name, method] of Object.entries(service)) {
    const typeName = requestTypeName(def, serviceName, method);
    const decode = method.requestDeserialize;
    guarded[name] = {
      ...method,
      requestDeserialize: (buf: Buffer) => {
        try {
          checkWire(schema, typeName, buf);
          return decode(buf);
        } catch (err) {
          return new UndecodableMessage(typeName, err instanceof Error ? err.message : String(err)) as unknown as object;
        }
      },
    };
  }
  return { ...def, [serviceName]: guarded };
}

export interface DecodeFailureOptions {
  /** The request type of a method path, for the message ("/pkg.Service/Method" -> "pkg.Request"). */
  requestType(path: string): string | undefined;
  /**
   * Called once for every call that ended before a request message reached
   * its handler (a decode failure among them), with the status it got.
   */
  onEarlyStatus?(path: string, code: grpc.status, seconds: number): void;
}

/** grpc-js's own status details for the failures turned into INVALID_ARGUMENT. */
const DECOMPRESS_FAILED = 'Failed to decompress message';
const DESERIALIZE_FAILED = 'Error deserializing request';

/** The status sent instead of grpc-js's INTERNAL for a request that did not decompress or deserialize. */
function rewrite(path: string, status: Status, opts: DecodeFailureOptions): Status {
  if (status.code !== grpc.status.INTERNAL) return status;
  let reason: string;
  if (status.details === DECOMPRESS_FAILED) reason = 'its compressed payload (grpc-encoding) is not valid';
  else if (status.details.startsWith(DESERIALIZE_FAILED)) reason = 'it is not a well-formed protobuf message of that type';
  else return status;
  const method = path.slice(path.lastIndexOf('/') + 1);
  const s = toStatus(undecodable(method, opts.requestType(path) ?? 'unknown type', reason));
  return { code: s.code, details: s.details, metadata: s.metadata };
}

/**
 * The server interceptor that turns decompression and deserialization
 * failures into INVALID_ARGUMENT and reports the calls that ended before
 * their handler ran. Must be the server's first interceptor.
 */
export function decodeFailureInterceptor(opts: DecodeFailureOptions): grpc.ServerInterceptor {
  return (method, call) => {
    const t0 = process.hrtime.bigint();
    let delivered = false;
    const fromHandler = new WeakSet<Status>();
    let reported = false;
    const forward = call.sendStatus.bind(call);
    // Every status reaches the wrapped call's sendStatus: the handler's
    // through the responder below, grpc-js's own failures directly.
    call.sendStatus = (status: Status) => {
      const sent = !fromHandler.has(status) && !delivered ? rewrite(method.path, status, opts) : status;
      if (!delivered && !reported) {
        reported = true;
        opts.onEarlyStatus?.(method.path, sent.code, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      forward(sent);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, nextMessage) => {
            delivered = true;
            nextMessage(message);
          },
        }),
      sendStatus: (status, next) => {
        fromHandler.add(status);
        next(status);
      },
    });
  };
}
