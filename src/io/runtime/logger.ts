// The logger: leveled lines on stderr, so stdout carries only command results and status lines.

import { LOG_LEVELS, type LogLevel } from '../../core/log-levels.js';

/** createLogger's level (defined in the core, where thread messages can name it too). */
export type { LogLevel };

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const at =
    (name: LogLevel) =>
    (message: string): void => {
      if (LOG_LEVELS.indexOf(name) <= threshold) write(`${new Date().toISOString()} ${name.padEnd(5)} ${message}\n`);
    };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
