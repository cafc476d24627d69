/**
 * Structured logs: one JSON object per line (`{ time, level, msg, ...fields }`), to stdout by default.
 * `log: false` silences them (tests); a function receives each entry instead (embedding apps).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  time: string;
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

export type LogOption = boolean | ((entry: LogEntry) => void) | undefined;

export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export function createLogger(option: LogOption): Logger {
  if (option === false) return () => {};
  const sink = typeof option === 'function' ? option : (e: LogEntry) => process.stdout.write(JSON.stringify(e) + '\n');
  return (level, msg, fields) => {
    try {
      sink({ time: new Date().toISOString(), level, msg, ...fields });
    } catch {
      // A failing log sink must never take the relay down.
    }
  };
}
