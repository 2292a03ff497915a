// A minimal gRPC client over raw HTTP/2 (node:http2) for the load generator:
// it sends request messages that were serialized and framed in advance, reads
// only the status of the response (grpc-status from the trailers, or from the
// headers of a trailers-only response) and keeps the body only when asked. A
// grpc-js client spends milliseconds of CPU per call on its call stack
// (interceptors, metadata, message (de)serialization, status objects); this
// spends tens of microseconds, so the load generator takes little of the CPU
// the server under test needs.
//
// Statuses are reported by name, as grpc-js names them: the grpc-status code
// when the server sent one; otherwise what a gRPC client derives from the
// HTTP/2 layer (non-200 HTTP status, RST_STREAM code, a dropped connection:
// UNAVAILABLE) or from the client's own deadline (DEADLINE_EXCEEDED).
import * as http2 from 'node:http2';
import { status as Status } from '@grpc/grpc-js';

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_CONTENT_TYPE,
  HTTP2_HEADER_TE,
  HTTP2_HEADER_STATUS,
  NGHTTP2_CANCEL,
  NGHTTP2_NO_ERROR,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_INADEQUATE_SECURITY,
} = http2.constants;

/** The gRPC status name of a code ('OK', 'UNAVAILABLE', ...; CODE_n when unknown). */
export function statusName(code: number): string {
  return (Status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

/** One gRPC length-prefixed message: flag 0 (not compressed), 4-byte big-endian length, payload. */
export function frameMessage(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** The payload of the first length-prefixed message of a response body. */
export function unframeMessage(body: Buffer): Buffer {
  if (body.length < 5) throw new Error(`response body of ${body.length} bytes holds no gRPC message`);
  if (body[0] !== 0) throw new Error(`compressed response message (flag ${body[0]}): no compression was negotiated`);
  const n = body.readUInt32BE(1);
  if (body.length < 5 + n) throw new Error(`response message truncated: ${body.length - 5} of ${n} bytes`);
  return body.subarray(5, 5 + n);
}

/** The gRPC status of an HTTP status other than 200 (gRPC's HTTP-to-gRPC status mapping). */
function httpStatusName(httpStatus: number): string {
  switch (httpStatus) {
    case 400:
      return 'INTERNAL';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'UNIMPLEMENTED';
    case 429:
    case 502:
    case 503:
    case 504:
      return 'UNAVAILABLE';
    default:
      return 'UNKNOWN';
  }
}

/** The status of a stream that closed without a grpc-status. */
function closedStatusName(rstCode: number | undefined, sessionGone: boolean): string {
  if (rstCode === NGHTTP2_REFUSED_STREAM || sessionGone) return 'UNAVAILABLE';
  if (rstCode === NGHTTP2_CANCEL) return 'CANCELLED';
  if (rstCode === NGHTTP2_ENHANCE_YOUR_CALM) return 'RESOURCE_EXHAUSTED';
  if (rstCode === NGHTTP2_INADEQUATE_SECURITY) return 'PERMISSION_DENIED';
  if (rstCode !== undefined && rstCode !== NGHTTP2_NO_ERROR) return 'INTERNAL';
  return 'UNKNOWN'; // the stream ended cleanly without a status
}

/** Called once per call: the status name and, when the call asked for it, the response body. */
export type CallDone = (status: string, body: Buffer | undefined) => void;

export interface RawClientOptions {
  /** Sessions (TCP connections) opened at most; a new one opens when every open one has its peer's maxConcurrentStreams in flight. */
  maxSessions: number;
  /** After a failed connection, calls fail at once with UNAVAILABLE for this long instead of reconnecting. */
  reconnectBackoffMs: number;
  /** Connection-level receive window, bytes. */
  windowBytes: number;
}

export const DEFAULT_RAW_CLIENT: RawClientOptions = { maxSessions: 4, reconnectBackoffMs: 100, windowBytes: 16 << 20 };

interface Session {
  h2: http2.ClientHttp2Session;
  active: number;
  /** No new streams: closed, failed or sent GOAWAY. */
  gone: boolean;
}

const noop = (): void => undefined;

export class RawGrpcClient {
  private readonly sessions: Session[] = [];
  private failedAt = -Infinity;
  private readonly headers = new Map<string, http2.OutgoingHttpHeaders>();
  private closed = false;
  private readonly o: RawClientOptions;

  /** target: host:port (plaintext HTTP/2, as grpc-js's insecure credentials). */
  constructor(
    readonly target: string,
    options: Partial<RawClientOptions> = {},
  ) {
    this.o = { ...DEFAULT_RAW_CLIENT, ...options };
  }

  /** Calls in flight, all sessions. */
  get inFlight(): number {
    return this.sessions.reduce((a, s) => a + s.active, 0);
  }

  /** Sessions currently usable. */
  get openSessions(): number {
    return this.sessions.filter((s) => !s.gone).length;
  }

  /** Opens a session and waits for the server's SETTINGS, retrying until `timeoutMs` (the server may still be starting). */
  async connect(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: Error | undefined;
    while (Date.now() < until) {
      const s = this.openSession();
      try {
        await new Promise<void>((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no HTTP/2 SETTINGS from ${this.target}`)), Math.max(1, until - Date.now()));
          const fail = (e: Error): void => {
            clearTimeout(timer);
            rej(e);
          };
          s.h2.once('error', fail);
          s.h2.once('close', () => fail(new Error(`connection to ${this.target} closed`)));
          s.h2.once('remoteSettings', () => {
            clearTimeout(timer);
            res();
          });
        });
        this.failedAt = -Infinity;
        return;
      } catch (e) {
        last = e as Error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`cannot connect to ${this.target} in ${timeoutMs} ms: ${last?.message ?? 'timed out'}`);
  }

  /**
   * Sends one framed request message on `path` (/package.Service/Method).
   * timeoutMs > 0 sets grpc-timeout and the client's own deadline. With
   * keepBody the response body (still framed) is handed to `done`.
   */
  call(path: string, framed: Buffer, timeoutMs: number, done: CallDone, keepBody = false): void {
    const s = this.pick();
    if (!s) {
      process.nextTick(done, 'UNAVAILABLE', undefined);
      return;
    }
    let req: http2.ClientHttp2Stream;
    try {
      req = s.h2.request(this.headersFor(path, timeoutMs), { endStream: false });
    } catch {
      // Out of stream ids, or the session went away between pick and request.
      s.gone = true;
      process.nextTick(done, 'UNAVAILABLE', undefined);
      return;
    }
    s.active++;
    let status: string | undefined;
    let finished = false;
    let chunks: Buffer[] | undefined = keepBody ? [] : undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (st: string): void => {
      if (finished) return;
      finished = true;
      s.active--;
      if (timer) clearTimeout(timer);
      const body = chunks && chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      chunks = undefined;
      done(st, body);
    };
    req.on('response', (h) => {
      const g = h['grpc-status'];
      if (g !== undefined) status = statusName(Number(g));
      else if (Number(h[HTTP2_HEADER_STATUS]) !== 200) status = httpStatusName(Number(h[HTTP2_HEADER_STATUS]));
    });
    req.on('trailers', (t) => {
      const g = t['grpc-status'];
      if (g !== undefined && status === undefined) status = statusName(Number(g));
    });
    if (keepBody) req.on('data', (c: Buffer) => chunks?.push(c));
    else req.on('data', noop);
    req.on('error', noop); // the outcome is read on 'close'
    req.on('close', () => finish(status ?? closedStatusName(req.rstCode, s.gone || s.h2.destroyed || s.h2.closed)));
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        if (finished) return;
        finish('DEADLINE_EXCEEDED');
        req.close(NGHTTP2_CANCEL);
      }, timeoutMs);
    }
    req.end(framed);
  }

  /** Closes every session: calls still in flight end (UNAVAILABLE). */
  close(): void {
    this.closed = true;
    for (const s of this.sessions) {
      s.gone = true;
      s.h2.destroy();
    }
    this.sessions.length = 0;
  }

  private headersFor(path: string, timeoutMs: number): http2.OutgoingHttpHeaders {
    const key = `${path} ${timeoutMs}`;
    let h = this.headers.get(key);
    if (!h) {
      h = {
        [HTTP2_HEADER_METHOD]: 'POST',
        [HTTP2_HEADER_PATH]: path,
        [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        [HTTP2_HEADER_TE]: 'trailers',
        ...(timeoutMs > 0 ? { 'grpc-timeout': `${Math.min(99_999_999, Math.ceil(timeoutMs))}m` } : {}),
      };
      this.headers.set(key, h);
    }
    return h;
  }

  /** A session with room for one more stream, opening one if allowed; undefined while backing off after a failure. */
  private pick(): Session | undefined {
    if (this.closed) return undefined;
    let least: Session | undefined;
    for (let i = this.sessions.length - 1; i >= 0; i--) {
      const s = this.sessions[i];
      if (s.gone) {
        if (s.active === 0) this.sessions.splice(i, 1);
        continue;
      }
      // Until the server's SETTINGS arrive, remoteSettings holds the protocol's default (unlimited).
      if (s.active < (s.h2.remoteSettings.maxConcurrentStreams ?? Infinity)) return s;
      if (!least || s.active < least.active) least = s;
    }
    const open = this.sessions.filter((s) => !s.gone).length;
    if (open < this.o.maxSessions && performance.now() - this.failedAt >= this.o.reconnectBackoffMs) return this.openSession();
    // Every session is at its limit: HTTP/2 queues the stream until one ends.
    return least;
  }

  private openSession(): Session {
    const h2 = http2.connect(`http://${this.target}`, { settings: { enablePush: false } });
    const s: Session = { h2, active: 0, gone: false };
    const gone = (failed: boolean): void => {
      if (failed) this.failedAt = performance.now();
      s.gone = true;
    };
    h2.on('connect', () => {
      try {
        h2.setLocalWindowSize(this.o.windowBytes);
      } catch {
        // the session is already going away
      }
    });
    h2.on('error', () => gone(true));
    h2.on('goaway', () => gone(false));
    h2.on('close', () => gone(false));
    this.sessions.push(s);
    return s;
  }
}
