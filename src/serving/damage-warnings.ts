// serve's warnings about damaged state, once per damaged file until that file changes: the serving layer looks at a
// damaged delta file or checkpoint at every poll, and a line per poll would bury what else the log says.

import fs from 'node:fs';
import { LambdaflowError } from '../core/errors.js';
import { type Logger } from '../io/runtime/logger.js';

/** A file's identity and content version as stat sees it: a rewrite (a new inode by rename, or new bytes) changes it. */
function versionOf(file: string): string {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  return stat === undefined ? 'gone' : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

export class DamageWarnings {
  /** Warned-about files (an error naming one) and messages (one naming none), with the version warned about. */
  private readonly warned = new Map<string, string>();

  constructor(private readonly logger: Logger) {}

  /** Logs `line` about `error`, unless an earlier line was about the same file, unchanged (or, naming none, the same error). */
  warn(error: unknown, line: string): void {
    const file = error instanceof LambdaflowError ? error.context.file : undefined;
    const key = file ?? `message:${(error as Error).message}`;
    const version = file === undefined ? '' : versionOf(file);
    if (this.warned.get(key) === version) return;
    this.warned.set(key, version);
    this.logger.warn(line);
  }

  /**
   * After a view was loaded: errors naming no file may be said again, and files gone are forgotten, so what is kept is
   * bounded by the damaged files still there.
   */
  loaded(): void {
    for (const key of this.warned.keys()) if (key.startsWith('message:') || !fs.existsSync(key)) this.warned.delete(key);
  }
}
