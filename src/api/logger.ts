// The server's logger: pino's JSON lines for log collectors, or one readable
// line per entry (pino-pretty) for a person at a terminal. 'auto' picks
// pretty when the destination is a terminal, JSON otherwise.
import pino from 'pino';
import pretty from 'pino-pretty';

import type { Config } from './config';

export interface LoggerOptions {
  level: string;
  format: Config['logFormat'];
  /** Where the lines go (default stdout). */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Whether `format` resolves to pino-pretty's lines for this destination. */
export function isPretty(format: Config['logFormat'], destination: { isTTY?: boolean }): boolean {
  return format === 'pretty' || (format === 'auto' && destination.isTTY === true);
}

export function createLogger(opts: LoggerOptions): pino.Logger {
  const out = opts.destination ?? process.stdout;
  if (!isPretty(opts.format, out)) return opts.destination ? pino({ level: opts.level }, opts.destination) : pino({ level: opts.level });
  // Formatted on the calling thread and written at once (no transport
  // thread), so the last lines before process.exit are not lost.
  const prettify = pretty.prettyFactory({ colorize: out.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
  return pino({ level: opts.level }, { write: (line: string) => void out.write(prettify(line)) });
}
