import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CatalogChange, formatChange, openCatalogLog, parseChange } from '../../src/catalog/catalog-log';

const bundle = { version: '1.0.0', createdAt: '2026-11-01T00:00:00.000Z' };
const del = (id: string, ts = 1_800_000_000_000): CatalogChange => ({ op: 'delete', ts, bundle, id });
const upsert = (id: string, embedding: number[]): CatalogChange => ({
  op: 'upsert',
  ts: 1_800_000_000_001,
  bundle,
  item: { id, brand: 'b "q"', category: 'c\nd', price: 9.99, createdAt: 1_790_000_000_000, contentHash: 'h', bias: -0.5, embedding: Float32Array.from(embedding) },
});

describe('catalog log (durable catalog changes)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'catalog-log-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('formats and parses changes exactly, embeddings bit for bit', () => {
    const values = [0.1, -0, 1e-40, 3.4e38, -1.5, 1 / 3];
    for (const c of [del('id "ü"\n'), upsert('x', values)]) {
      const back = parseChange(formatChange(c));
      assert.deepEqual(back, c);
      assert.ok(!formatChange(c).includes('\n'), 'one line per change');
    }
    const back = parseChange(formatChange(upsert('x', values)));
    assert.ok(back?.op === 'upsert');
    assert.deepEqual(new Uint32Array(back.item.embedding.buffer), new Uint32Array(Float32Array.from(values).buffer));
  });

  it('parses only well-formed changes', () => {
    const good = JSON.parse(formatChange(upsert('x', [1, 2]))) as Record<string, unknown>;
    const item = good.item as Record<string, unknown>;
    const nan = Buffer.alloc(4);
    nan.writeFloatLE(NaN);
    const bad: unknown[] = [
      { ...good, op: 'rename' },
      { ...good, ts: -1 },
      { ...good, bundle: 'v1' },
      { ...good, item: { ...item, id: '' } },
      { ...good, item: { ...item, price: 0 } },
      { ...good, item: { ...item, embedding: 'not base64!' } },
      { ...good, item: { ...item, embedding: Buffer.alloc(6).toString('base64') } },
      { ...good, item: { ...item, embedding: nan.toString('base64') } },
      { op: 'delete', ts: 1, bundle, id: 7 },
      [1, 2, 3],
    ];
    for (const b of bad) assert.equal(parseChange(JSON.stringify(b)), null, JSON.stringify(b));
    assert.equal(parseChange('{"op":"delete",'), null);
    assert.notEqual(parseChange(JSON.stringify(good)), null);
  });

  it('rewrite() replaces the content after the appends queued before it; appends queued after it follow', async () => {
    const { journal } = await openCatalogLog({ dir });
    for (let i = 0; i < 10; i++) await journal.append([del(`a${i}`)]);
    const before = journal.append([del('queued-before')]);
    const rewritten = journal.rewrite([del('kept-1'), del('kept-2')]);
    const after = journal.append([del('queued-after')]);
    await Promise.all([before, rewritten, after]);
    assert.equal(journal.size, 3);
    assert.equal(journal.segmentCount, 1);
    await journal.append([del('last')]);
    await journal.close();
    assert.deepEqual(await fs.readdir(dir), ['catalog-000000000002.jsonl']);
    const again = await openCatalogLog({ dir });
    await again.journal.close();
    assert.deepEqual(
      again.recovered.records.map((c) => (c.op === 'delete' ? c.id : '')),
      ['kept-1', 'kept-2', 'queued-after', 'last'],
    );
  });

  it('recovers from a crash during a rewrite (a leftover temporary file) and from a torn last line', async () => {
    const { journal } = await openCatalogLog({ dir });
    await journal.append([del('a'), del('b')]);
    await journal.close();
    await fs.writeFile(path.join(dir, 'catalog-000000000002.jsonl.tmp'), formatChange(del('half')));
    await fs.appendFile(path.join(dir, 'catalog-000000000001.jsonl'), '{"op":"delete","ts":1,"bun');
    const again = await openCatalogLog({ dir });
    assert.deepEqual(
      again.recovered.records.map((c) => (c.op === 'delete' ? c.id : '')),
      ['a', 'b'],
    );
    assert.ok(again.recovered.truncatedBytes > 0);
    await again.journal.append([del('c')]);
    await again.journal.close();
    assert.deepEqual(await fs.readdir(dir), ['catalog-000000000001.jsonl']);
    const third = await openCatalogLog({ dir });
    await third.journal.close();
    assert.equal(third.recovered.records.length, 3);
  });
});
