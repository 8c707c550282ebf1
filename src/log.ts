/**
 * Structured logging: one JSON object per line on stderr.
 *
 * Callers log events and internal identifiers only. Never pass patient names,
 * patient ids, birth dates, accession numbers or file contents; file paths are
 * logged as given by the operator on the command line.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function parseLevel(value: string | undefined): Level {
  return value === 'debug' || value === 'warn' || value === 'error' ? value : 'info';
}

export function createLogger(
  context: Record<string, unknown> = {},
  minimum: Level = parseLevel(process.env.JOINTSPACE_LOG_LEVEL),
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const emit = (level: Level, event: string, fields: Record<string, unknown> = {}) => {
    if (order[level] < order[minimum]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, event, ...context, ...fields }));
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => createLogger({ ...context, ...fields }, minimum, write),
  };
}
