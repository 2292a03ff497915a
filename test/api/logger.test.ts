import assert from 'node:assert/strict';
import { Writable } from 'node:stream';

import { loadConfig } from '../../src/api/config';
import { createLogger } from '../../src/api/logger';

/** A destination that keeps what it is given, posing as a terminal or not. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return Object.assign(w, { isTTY, text: () => chunks.join('') });
}

/** Waits until the destination has seen a write (pino's JSON stream writes on the same tick). */
const settle = () => new Promise((r) => setImmediate(r));

describe('server/logger', () => {
  it('auto: JSON lines when the output is not a terminal', async () => {
    const out = sink(false);
    createLogger({ level: 'info', format: 'auto', destination: out }).info({ port: 50051 }, 'listening');
    await settle();
    const entry = JSON.parse(out.text().trim()) as Record<string, unknown>;
    assert.equal(entry.msg, 'listening');
    assert.equal(entry.port, 50051);
    assert.equal(entry.level, 30);
  });

  it('auto: one readable line per entry, with colours, at a terminal', async () => {
    const out = sink(true);
    createLogger({ level: 'info', format: 'auto', destination: out }).info({ port: 50051 }, 'listening');
    await settle();
    const text = out.text();
    assert.throws(() => JSON.parse(text.trim()), 'not JSON');
    assert.match(text, /\x1b\[/, 'coloured');
    const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
    assert.match(plain, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: listening \{"port":50051\}\n$/, 'one line: time, level, message, fields');
    assert.doesNotMatch(text, /hostname|pid/);
  });

  it('--log-format json and pretty force the format either way', async () => {
    const tty = sink(true);
    createLogger({ level: 'info', format: 'json', destination: tty }).warn('slow');
    const pipe = sink(false);
    createLogger({ level: 'info', format: 'pretty', destination: pipe }).warn('slow');
    await settle();
    assert.equal((JSON.parse(tty.text().trim()) as { msg: string }).msg, 'slow');
    assert.match(pipe.text(), /WARN.*slow/);
    assert.doesNotMatch(pipe.text(), /\x1b\[/, 'no colours into a pipe');
  });

  it('honours the level', async () => {
    const out = sink(false);
    const log = createLogger({ level: 'warn', format: 'auto', destination: out });
    log.info('hidden');
    log.warn('shown');
    await settle();
    assert.doesNotMatch(out.text(), /hidden/);
    assert.match(out.text(), /shown/);
  });

  it('takes --log-format from flags and the environment, and refuses other values with the setting named', () => {
    assert.equal(loadConfig([], {}).logFormat, 'auto');
    assert.equal(loadConfig(['--log-format', 'json'], {}).logFormat, 'json');
    assert.equal(loadConfig([], { RANKING_LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
    assert.throws(() => loadConfig(['--log-format', 'yaml'], {}), /--log-format: logFormat must be "auto", "json" or "pretty"/);
  });
});
