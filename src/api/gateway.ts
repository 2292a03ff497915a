// One HTTP gateway call: the proto3 JSON body becomes the request grpc-js
// would decode, the handler serves it as the gRPC method does, and the
// response is printed as proto3 JSON (errors in the gateway's error shape).
import { grpcStatusName } from '../metrics/metrics';
import { ServiceError, toStatus } from './errors';
import type { HttpCall, HttpReply } from './http';
import { grpcToHttpStatus } from './http-status';
import type { JsonCodec } from './proto-json';
import { RankResponse } from './rank-response';

export async function gatewayCall(json: JsonCodec | null, method: string, body: unknown, call: HttpCall, fn: (req: unknown) => Promise<object>): Promise<HttpReply> {
  const { requestId } = call;
  try {
    if (!json) throw new ServiceError('NOT_READY', 'the server is still starting');
    const req = json.request(method, body);
    const res = await fn(req);
    return { status: 200, body: json.response(method, res instanceof RankResponse ? res.toObject() : res, call.names) as object };
  } catch (err) {
    const s = toStatus(err);
    const status = grpcToHttpStatus(s.code);
    return {
      status,
      grpcCode: s.code,
      body: { error: { code: status, status: grpcStatusName(s.code), reason: String(s.metadata.get('error-code')[0] ?? 'INTERNAL'), message: s.details }, requestId },
    };
  }
}
