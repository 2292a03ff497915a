import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { npyHeader, parseNpyHeader, readNpyFloat32, writeNpyFloat32 } from '../../src/bundle/npy';
import { encodeSafetensors, parseSafetensors, readSafetensors, writeSafetensors, Tensor } from '../../src/bundle/safetensors';

describe('bundle file formats', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-formats-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('npy', () => {
    it('round-trips a float32 matrix into shared memory', async () => {
      const data = Float32Array.from({ length: 7 * 5 }, (_, i) => i * 0.5 - 3);
      const file = path.join(dir, 'm.npy');
      await writeNpyFloat32(file, [7, 5], data);
      const m = await readNpyFloat32(file);
      assert.deepEqual(m.shape, [7, 5]);
      assert.ok(m.data.buffer instanceof SharedArrayBuffer);
      assert.deepEqual(Array.from(m.data), Array.from(data));
    });

    it('writes headers numpy accepts: 64-byte aligned data, 1-d shape with a trailing comma', () => {
      const h = npyHeader([3]);
      assert.equal(h.length % 64, 0);
      assert.match(h.toString('latin1'), /'shape': \(3,\)/);
      const parsed = parseNpyHeader('x.npy', h);
      assert.deepEqual(parsed.shape, [3]);
      assert.equal(parsed.dataOffset, h.length);
    });

    it('parses a version 2.0 header as numpy writes it', () => {
      const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".padEnd(115, ' ') + '\n';
      const buf = Buffer.alloc(12 + dict.length);
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]).copy(buf);
      buf.writeUInt32LE(dict.length, 8);
      buf.write(dict, 12, 'latin1');
      const h = parseNpyHeader('v2.npy', buf);
      assert.deepEqual(h.shape, [2, 3]);
      assert.equal(h.dataOffset, 12 + dict.length);
    });

    it('rejects bad magic, wrong dtype, fortran order and truncated data, naming the file', async () => {
      const bad = path.join(dir, 'bad.npy');
      await fs.writeFile(bad, Buffer.from('not numpy at all'));
      await assert.rejects(readNpyFloat32(bad), /bad\.npy: not a \.npy file/);

      const f8 = path.join(dir, 'f8.npy');
      await fs.writeFile(f8, Buffer.concat([npyHeader([2], '<f8'), Buffer.alloc(16)]));
      await assert.rejects(readNpyFloat32(f8), /f8\.npy: dtype must be float32/);

      const fort = path.join(dir, 'fortran.npy');
      const fh = npyHeader([2, 2]).toString('latin1').replace("'fortran_order': False", "'fortran_order': True ");
      await fs.writeFile(fort, Buffer.concat([Buffer.from(fh, 'latin1'), Buffer.alloc(16)]));
      await assert.rejects(readNpyFloat32(fort), /fortran_order/);

      const short = path.join(dir, 'short.npy');
      await fs.writeFile(short, Buffer.concat([npyHeader([4, 4]), Buffer.alloc(10)]));
      await assert.rejects(readNpyFloat32(short), /short\.npy: data has 10 bytes, shape \(4, 4\) needs 64/);
    });
  });

  describe('safetensors', () => {
    const tensors = new Map<string, Tensor>([
      ['cross.0.weight', { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
      ['cross.0.bias', { shape: [2], data: Float32Array.from([0.5, -0.5]) }],
      ['héads.bias', { shape: [1], data: Float32Array.from([7]) }],
    ]);

    it('round-trips tensors and metadata (non-ASCII names included)', async () => {
      const file = path.join(dir, 'w.safetensors');
      await writeSafetensors(file, tensors, { format: 'pt' });
      const back = await readSafetensors(file);
      assert.deepEqual(back.metadata, { format: 'pt' });
      assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
      for (const [name, t] of tensors) {
        assert.deepEqual(back.tensors.get(name)?.shape, t.shape);
        assert.deepEqual(Array.from(back.tensors.get(name)?.data ?? []), Array.from(t.data));
      }
    });

    it('aligns the data section to 8 bytes', () => {
      const buf = encodeSafetensors(tensors);
      assert.equal(Number(buf.readBigUInt64LE(0)) % 8, 0);
    });

    it('rejects non-F32 dtypes, bad byte ranges and garbage headers', () => {
      const mk = (header: object, dataBytes: number) => {
        const json = Buffer.from(JSON.stringify(header));
        const b = Buffer.alloc(8 + json.length + dataBytes);
        b.writeBigUInt64LE(BigInt(json.length), 0);
        json.copy(b, 8);
        return b;
      };
      assert.throws(() => parseSafetensors('m', mk({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, 4)), /dtype F16/);
      assert.throws(() => parseSafetensors('m', mk({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)), /byte range/);
      assert.throws(() => parseSafetensors('m', mk({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4)), /byte range/);
      const garbage = Buffer.alloc(16);
      garbage.writeBigUInt64LE(4n, 0);
      garbage.write('{{{{', 8);
      assert.throws(() => parseSafetensors('m', garbage), /header is not JSON/);
      assert.throws(() => parseSafetensors('m', Buffer.alloc(4)), /truncated/);
    });
  });
});
