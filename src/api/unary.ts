// The wrapper of every unary handler: the request id, status mapping,
// request metrics and the per-call log line; it never throws into grpc-js.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import type { Metrics } from '../metrics/metrics';
import { UndecodableMessage, undecodable } from './decode-guard';
import { toStatus } from './errors';
import { RankResponse } from './rank-response';

export type UnaryFn = (req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>, requestId: string) => Promise<object>;

export function unaryCall(method: string, fn: UnaryFn, metrics: Metrics, logger: Logger): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const t0 = process.hrtime.bigint();
    // One structured log line per call (debug level), keyed by the request id.
    const requestId = (call.metadata.get('x-request-id')[0] as string | undefined) ?? randomUUID();
    // The child logger is made only when a line is written: pino serializes
    // its bindings when the child is created, a cost on every call otherwise.
    const log = () => logger.child({ method, requestId });
    const debug = logger.isLevelEnabled('debug');
    const req = call.request;
    const result = req instanceof UndecodableMessage ? Promise.reject(undecodable(method, req.typeName, req.reason)) : fn(req, call, requestId);
    result.then(
      (res) => {
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        metrics.observeRequest(method, grpc.status.OK, secs);
        if (debug) log().debug({ code: 'OK', ms: secs * 1000, ...(res instanceof RankResponse ? res.served : {}) }, 'call');
        callback(null, res);
      },
      (err: unknown) => {
        const s = toStatus(err);
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        metrics.observeRequest(method, s.code, secs);
        if (s.code === grpc.status.INTERNAL) log().error({ err }, 'internal error');
        else if (debug) log().debug({ code: grpc.status[s.code], ms: secs * 1000, details: s.details }, 'call');
        callback({ code: s.code, details: s.details, metadata: s.metadata });
      },
    );
  };
}
