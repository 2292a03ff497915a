// Raw gRPC over node:http2, for requests a gRPC client library would not
// send: arbitrary message bytes, a compressed flag on a payload that is not
// compressed, unknown groups. A frame is 1 byte compressed flag, 4 bytes
// big-endian length, then the payload.
import * as http2 from 'node:http2';
import { gzipSync } from 'node:zlib';

export interface RawReply {
  /** grpc-status as a number (-1 when the server sent none). */
  status: number;
  /** grpc-message, percent-decoded. */
  message: string;
  /** Response message payloads (frames decoded). */
  messages: Buffer[];
}

/** One length-prefixed frame; `compressed` sets the flag (the payload is sent as given). */
export function frame(payload: Buffer, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(compressed ? 1 : 0, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** A gzip frame of `payload`, as a client with grpc-encoding gzip sends it. */
export function gzipFrame(payload: Buffer): Buffer {
  return frame(gzipSync(payload), true);
}

/** Sends `body` (frames) to `path` on the gRPC server at 127.0.0.1:`port` and reads the status. */
export function rawCall(port: number, path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<RawReply> {
  return new Promise<RawReply>((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let status = -1;
    let message = '';
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (typeof h['grpc-message'] === 'string') message = decodeURIComponent(h['grpc-message']);
    };
    const chunks: Buffer[] = [];
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => {
      session.close();
      reject(err);
    });
    req.on('close', () => {
      session.close();
      const data = Buffer.concat(chunks);
      const messages: Buffer[] = [];
      for (let at = 0; at + 5 <= data.length; ) {
        const len = data.readUInt32BE(at + 1);
        messages.push(data.subarray(at + 5, at + 5 + len));
        at += 5 + len;
      }
      resolve({ status, message, messages });
    });
    req.end(body);
  });
}
