// HTTP side of the server on node:http: Prometheus scrape endpoint, health
// probe, and the JSON gateway of RankingService.Rank and RecordEvents.
//
//   GET  /metrics     Prometheus text format
//   GET  /healthz     200 SERVING | 503 NOT_SERVING (text/plain)
//   POST /v1/rank     JSON RankRequest -> the rank callback's { status, body }
//   POST /v1/events   JSON RecordEventsRequest -> the recordEvents callback's reply
//
// POST bodies must be JSON: a content type of application/json (parameters
// allowed, charset utf-8 if any) or none at all; any other type gets 415
// without the body being read. `?names=json` asks for lowerCamelCase JSON
// field names in the reply instead of the proto names (`?names=proto`, the
// default); the callbacks get the choice.
//
// Every response carries an `x-request-id` header: the caller's, when it sent
// a sane one, otherwise a fresh UUID. Errors are JSON:
//   { "error": { "code": <http>, "status": <name>, "reason": <CODE>, "message": ... },
//     "requestId": ... }
// where status is the gRPC status name the error stands for, or, for errors of
// HTTP itself, METHOD_NOT_ALLOWED (405, with an Allow header),
// PAYLOAD_TOO_LARGE (413) or UNSUPPORTED_MEDIA_TYPE (415).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { grpcStatusName } from '../metrics/metrics';
import type { Metrics } from '../metrics/metrics';
import { GRPC, httpToGrpcStatus } from './http-status';

/** What the rank callback answers: an HTTP status and a JSON-serialisable body. */
export interface HttpReply {
  /** HTTP status (use `grpcToHttpStatus` for errors from the engine). */
  status: number;
  body: object;
  /** The gRPC status code the reply stands for (for the requests_total label); derived from `status` when absent. */
  grpcCode?: number;
}

/** What a JSON callback learns about its call besides the body. */
export interface HttpCall {
  requestId: string;
  /** Field names the reply should use: as in the proto (default) or lowerCamelCase JSON names. */
  names: 'proto' | 'json';
}

/** Handles a parsed JSON body. May throw: the client gets a 500, the server keeps running. */
export type JsonHandler = (body: unknown, requestId: string, call: HttpCall) => Promise<HttpReply>;

export interface HttpServerOptions {
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  /** Interface to bind; all interfaces when absent. */
  host?: string;
  metrics: Metrics;
  /** Ranks a parsed JSON body (POST /v1/rank). */
  rank: JsonHandler;
  /** Records the events of a parsed JSON body (POST /v1/events); the route is absent without it. */
  recordEvents?: JsonHandler;
  /** True when the engine can serve (bundle loaded and warm). */
  health: () => boolean;
  /** Largest accepted request body; default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * `method` label under which /v1/rank requests are counted in
   * requests_total and request_duration_seconds (default 'HttpRank', so the
   * gateway is told apart from the gRPC 'Rank'); null to not record them here.
   */
  methodLabel?: string | null;
  /** The same for /v1/events (default 'HttpRecordEvents'). */
  eventsMethodLabel?: string | null;
  /** How long `close()` lets in-flight requests finish before cutting connections; default 5000 ms. */
  closeGraceMs?: number;
}

export interface HttpServerHandle {
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to closeGraceMs), then resolves. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1 << 20;
const REQUEST_ID_HEADER = 'x-request-id';
/** Caller-supplied request ids are echoed only when short and printable. */
const SANE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const JSON_TYPE = 'application/json; charset=utf-8';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The error body's `status`; the gRPC name of the status when absent. */
    readonly statusName?: string,
  ) {
    super(message);
  }
}

/** The gateway's routes: /metrics, /healthz, /v1/rank and /v1/events. */
class HttpGateway {
  readonly maxBodyBytes: number;
  private readonly methodLabel: string | null;
  private readonly eventsMethodLabel: string | null;

  constructor(private readonly opts: HttpServerOptions) {
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    if (!Number.isInteger(this.maxBodyBytes) || this.maxBodyBytes < 0) {
      throw new RangeError(`maxBodyBytes must be a non-negative integer, got ${this.maxBodyBytes}`);
    }
    this.methodLabel = opts.methodLabel === undefined ? 'HttpRank' : opts.methodLabel;
    this.eventsMethodLabel = opts.eventsMethodLabel === undefined ? 'HttpRecordEvents' : opts.eventsMethodLabel;
  }

  async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const [path, query = ''] = splitUrl(req.url ?? '/');
    switch (path) {
      case '/metrics':
        if (!this.allow(req, res, requestId, 'GET')) return;
        return this.serveMetrics(res);
      case '/healthz':
        if (!this.allow(req, res, requestId, 'GET')) return;
        return this.serveHealth(res);
      case '/v1/rank':
        if (!this.allow(req, res, requestId, 'POST')) return;
        return this.serveJson(req, res, { requestId, query }, this.opts.rank, this.methodLabel);
      case '/v1/events':
        if (!this.opts.recordEvents) break;
        if (!this.allow(req, res, requestId, 'POST')) return;
        return this.serveJson(req, res, { requestId, query }, this.opts.recordEvents, this.eventsMethodLabel);
    }
    drain(req);
    sendError(res, requestId, new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${path}`));
  }

  private async serveMetrics(res: ServerResponse): Promise<void> {
    const text = await this.opts.metrics.text();
    res.writeHead(200, { 'content-type': this.opts.metrics.contentType, 'cache-control': 'no-store' });
    res.end(text);
  }

  private serveHealth(res: ServerResponse): void {
    let serving = false;
    try {
      serving = this.opts.health() === true;
    } catch {
      serving = false;
    }
    res.writeHead(serving ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(serving ? 'SERVING\n' : 'NOT_SERVING\n');
  }

  private async serveJson(
    req: IncomingMessage,
    res: ServerResponse,
    at: { requestId: string; query: string },
    handler: JsonHandler,
    label: string | null,
  ): Promise<void> {
    const { requestId } = at;
    const started = process.hrtime.bigint();
    let grpcCode: number = GRPC.INTERNAL;
    try {
      let status: number;
      let payload: string;
      try {
        const names = namesOf(at.query);
        checkContentType(req);
        const body = parseJson(await readBody(req, this.maxBodyBytes));
        const reply = await handler(body, requestId, { requestId, names });
        if (!reply || !Number.isInteger(reply.status) || reply.status < 200 || reply.status > 599) {
          throw new Error(`callback returned an invalid status ${String(reply?.status)}`);
        }
        status = reply.status;
        payload = JSON.stringify(reply.body);
        if (payload === undefined) throw new Error('callback returned no body');
        grpcCode = reply.grpcCode ?? httpToGrpcStatus(status);
      } catch (err) {
        const e = err instanceof HttpError ? err : new HttpError(500, 'INTERNAL', 'internal error');
        grpcCode = httpToGrpcStatus(e.status);
        drain(req); // a body left unread (415, a bad query, 413) is discarded
        if (e.status === 413 || e.status === 415) res.setHeader('connection', 'close');
        sendError(res, requestId, e);
        return;
      }
      res.writeHead(status, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' });
      res.end(payload);
    } finally {
      if (label !== null) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.opts.metrics.observeRequest(label, grpcCode, seconds);
      }
    }
  }

  private allow(req: IncomingMessage, res: ServerResponse, requestId: string, method: string): boolean {
    if (req.method === method) return true;
    drain(req);
    res.setHeader('allow', method);
    sendError(res, requestId, new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.url} accepts ${method} only`, 'METHOD_NOT_ALLOWED'));
    return false;
  }
}

export function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const gateway = new HttpGateway(opts);
  const closeGraceMs = opts.closeGraceMs ?? 5000;

  const server = createServer((req, res) => {
    const requestId = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.on('error', () => undefined); // client went away: nothing to do
    gateway.handle(req, res, requestId).catch(() => {
      // Only reachable if writing the response itself failed.
      if (!res.headersSent) sendError(res, requestId, new HttpError(500, 'INTERNAL', 'internal error'));
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      const port = (server.address() as AddressInfo).port;
      resolve({ port, close: () => closeServer(server, closeGraceMs) });
    });
  });
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Reads the whole body, refusing (413) more than `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    drain(req);
    return Promise.reject(tooLarge(declared, limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        chunks.length = 0;
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!refused) reject(new HttpError(400, 'BAD_REQUEST', `request body could not be read: ${err.message}`));
    });
    // The client went away before the end of the body (a no-op once settled).
    req.on('close', () => reject(new HttpError(400, 'BAD_REQUEST', 'request body was cut short')));
  });
}

function tooLarge(size: number, limit: number): HttpError {
  return new HttpError(413, 'BODY_TOO_LARGE', `request body of ${size}+ bytes exceeds the limit of ${limit} bytes`, 'PAYLOAD_TOO_LARGE');
}

function splitUrl(url: string): [string, string?] {
  const q = url.indexOf('?');
  return q < 0 ? [url] : [url.slice(0, q), url.slice(q + 1)];
}

/** The reply's field names asked for by `?names=proto|json` (proto when absent). */
function namesOf(query: string): 'proto' | 'json' {
  const given = new URLSearchParams(query).getAll('names');
  if (given.length === 0) return 'proto';
  if (given.length === 1 && (given[0] === 'proto' || given[0] === 'json')) return given[0];
  throw new HttpError(400, 'INVALID_QUERY', `names: must be "proto" (field names as in the proto) or "json" (lowerCamelCase JSON names), got ${JSON.stringify(given.join(','))}`);
}

/** JSON bodies only: application/json (charset utf-8 if one is given) or no content type at all. */
function checkContentType(req: IncomingMessage): void {
  const given = req.headers['content-type'];
  if (given === undefined) return;
  const [type, ...params] = given.split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  if (type === 'application/json' && (charset === undefined || charset === 'utf-8')) return;
  throw new HttpError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `content-type ${JSON.stringify(given)} is not accepted: send the body as application/json (UTF-8)`,
    'UNSUPPORTED_MEDIA_TYPE',
  );
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) throw new HttpError(400, 'INVALID_JSON', 'request body is empty: expected a JSON object');
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError(400, 'INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Discards a request body we will not read, so the connection can be reused. */
function drain(req: IncomingMessage): void {
  req.resume();
}

function sendError(res: ServerResponse, requestId: string, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status: string = err.statusName ?? grpcStatusName(httpToGrpcStatus(err.status));
  res.writeHead(err.status, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' });
  res.end(
    JSON.stringify({
      error: { code: err.status, status, reason: err.reason, message: err.message },
      requestId,
    }),
  );
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close((err) => {
      clearTimeout(force);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
