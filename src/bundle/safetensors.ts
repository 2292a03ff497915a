// safetensors files (the PyTorch ecosystem's plain tensor format): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the raw little-endian data. Used for model weights.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { jsonProblem } from './json-error';
import { BundleError } from './manifest';

export class SafetensorsError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const MAX_HEADER = 100 << 20;

/** Parses a safetensors buffer; only F32 tensors are accepted. */
export function parseSafetensors(file: string, buf: Buffer): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new SafetensorsError(file, 'truncated file');
  const n = Number(buf.readBigUInt64LE(0));
  if (n > MAX_HEADER || 8 + n > buf.length) throw new SafetensorsError(file, `bad header length ${n}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new SafetensorsError(file, `header is not JSON (${jsonProblem(err, buf.subarray(8, 8 + n).toString('utf8'))})`);
  }
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as HeaderEntry;
    if (!e || typeof e !== 'object' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw new SafetensorsError(file, `tensor '${name}' has a malformed header entry`);
    }
    if (e.dtype !== 'F32') throw new SafetensorsError(file, `tensor '${name}' has dtype ${e.dtype}; only F32 is supported`);
    const count = e.shape.reduce((a: number, b: number) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end > dataLen || end - begin !== count * 4) {
      throw new SafetensorsError(file, `tensor '${name}' byte range [${begin}, ${end}) does not fit shape [${e.shape.join(', ')}]`);
    }
    // Copy: the data need not be 4-byte aligned in the file, and weights are small.
    const data = new Float32Array(count);
    Buffer.from(data.buffer).set(buf.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { shape: e.shape.slice(), data });
  }
  return { tensors, metadata };
}

export async function readSafetensors(file: string): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  return parseSafetensors(file, await fs.readFile(file));
}

export function encodeSafetensors(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new SafetensorsError(name, `shape [${t.shape.join(', ')}] needs ${count} values, got ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  // Pad the header with spaces so the data starts 8-byte aligned.
  const raw = Buffer.from(JSON.stringify(header), 'utf8');
  const json = Buffer.concat([raw, Buffer.alloc((8 - (raw.length % 8)) % 8, 0x20)]);
  const out = Buffer.alloc(8 + json.length + off);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const t of tensors.values()) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

export async function writeSafetensors(file: string, tensors: ReadonlyMap<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  await fs.writeFile(file, encodeSafetensors(tensors, metadata));
}

/** readSafetensors() of a bundle file: a malformed file is a BundleError naming it. */
export async function readBundleTensors(dir: string, file: string): Promise<Map<string, Tensor>> {
  try {
    return (await readSafetensors(path.join(dir, file))).tensors;
  } catch (err) {
    if (err instanceof SafetensorsError) throw new BundleError(file, err.message.replace(/^[^:]*: /, ''));
    throw err;
  }
}
