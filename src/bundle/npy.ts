// NumPy .npy files (format versions 1.0-3.0), the embedding format of the
// bundle: numpy and PyTorch users write them with np.save. Float32 matrices are
// read into SharedArrayBuffer-backed arrays so worker threads share them.
import { promises as fs } from 'node:fs';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const CHUNK = 16 << 20;

export class NpyError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'NpyError';
  }
}

export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the data. */
  dataOffset: number;
}

/** Parses the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. */
export function parseNpyHeader(file: string, head: Buffer): NpyHeader {
  if (head.length < 10 || !head.subarray(0, 6).equals(MAGIC)) throw new NpyError(file, 'not a .npy file (bad magic)');
  const major = head[6];
  let len: number;
  let start: number;
  if (major === 1) {
    len = head.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (head.length < 12) throw new NpyError(file, 'truncated header');
    len = head.readUInt32LE(8);
    start = 12;
  } else {
    throw new NpyError(file, `unsupported .npy format version ${major}`);
  }
  if (head.length < start + len) throw new NpyError(file, 'truncated header');
  const text = head.subarray(start, start + len).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new NpyError(file, 'malformed header (it needs descr, fortran_order and shape)');
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new NpyError(file, `bad shape (${shape[1]})`);
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims, dataOffset: start + len };
}

export interface NpyMatrix {
  shape: number[];
  /** Row-major float32 values in a SharedArrayBuffer. */
  data: Float32Array;
}

/** Reads a little-endian float32, C-order .npy file into shared memory, off the event loop in chunks. */
export async function readNpyFloat32(file: string): Promise<NpyMatrix> {
  const fh = await fs.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, 65536 + 12));
    await fh.read(head, 0, head.length, 0);
    const h = parseNpyHeader(file, head);
    if (h.descr !== '<f4') throw new NpyError(file, `dtype must be float32 ('<f4'), got '${h.descr}'`);
    if (h.fortranOrder) throw new NpyError(file, 'fortran_order arrays are not supported; save a C-contiguous array');
    const count = h.shape.reduce((a, b) => a * b, 1);
    const bytes = count * 4;
    if (size - h.dataOffset !== bytes) {
      throw new NpyError(file, `data has ${size - h.dataOffset} bytes, shape (${h.shape.join(', ')}) needs ${bytes}`);
    }
    const sab = new SharedArrayBuffer(bytes);
    const view = Buffer.from(sab);
    for (let off = 0; off < bytes; off += CHUNK) {
      const n = Math.min(CHUNK, bytes - off);
      const { bytesRead } = await fh.read(view, off, n, h.dataOffset + off);
      if (bytesRead !== n) throw new NpyError(file, 'unexpected end of file');
    }
    return { shape: h.shape, data: new Float32Array(sab) };
  } finally {
    await fh.close();
  }
}

/** Builds a version 1.0 header padded so the data starts on a 64-byte boundary. */
export function npyHeader(shape: readonly number[], descr = '<f4'): Buffer {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const out = Buffer.alloc(10 + dict.length);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(dict.length, 8);
  out.write(dict, 10, 'latin1');
  return out;
}

export async function writeNpyFloat32(file: string, shape: readonly number[], data: Float32Array): Promise<void> {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new NpyError(file, `shape (${shape.join(', ')}) needs ${count} values, got ${data.length}`);
  const fh = await fs.open(file, 'w');
  try {
    await fh.write(npyHeader(shape));
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let off = 0; off < bytes.length; off += CHUNK) {
      await fh.write(bytes.subarray(off, Math.min(off + CHUNK, bytes.length)));
    }
  } finally {
    await fh.close();
  }
}
