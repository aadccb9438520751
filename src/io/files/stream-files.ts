// Finding new complete stream files in stream_input/: watcher events as hints while the folder is small, a listing of
// it otherwise (and every so often: hints get lost on some file systems and under load), and a settle check for
// files that may still be written in place.
// Only regular files are stream files: links are not followed, and an entry that is not one is warned about once.

import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { type Clock } from '../../core/clock.js';
import { isInputFileName } from './layout.js';
import { type Logger } from '../runtime/logger.js';
import { notRegularFile } from './read-range.js';

/** A stream file that is complete and not yet logged. */
export interface NewFile {
  readonly name: string;
  readonly size: number;
  /** Last modification (file-system time): the start of its freshness lag. */
  readonly mtimeMs: number;
}

export interface StreamFilesConfig {
  readonly dir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** A full listing at least this often, whatever the hints say. */
  readonly listEveryMs: number;
}

/**
 * A file modified less than this ago may still be written in place: it is stat'ed again after this long and
 * reported only if unchanged. Producers must rename complete files into place (the contract); this only catches
 * a writer that breaks it while still writing. It is part of every fresh file's latency, so it is kept short.
 */
const SETTLE_MS = 15;
/** chokidar keeps state for every file it has seen (~2 KB each): a fresh watcher replaces it after this many. */
const WATCHER_RECYCLE_ADDS = 2_000;
/**
 * chokidar answers every change of the folder by reading it again with an lstat of each entry, so its cost follows
 * the files landed and not yet compacted: at 100 files/s with ~3,000 there, it took 15 s of the speed layer's main
 * thread in 37 s and made every micro-batch late. With more entries than this the watcher is closed and each
 * micro-batch lists the folder instead (names only); it starts again below half of this (after a compaction).
 */
const WATCH_MAX_ENTRIES = 500;

export class StreamFiles {
  private readonly loggedNames = new Set<string>();
  private readonly hinted = new Set<string>();
  /**
   * Entries refused (a symbolic link, a directory, a FIFO…) and already warned about: one warning per name for the
   * life of the process, although every micro-batch sees them. Bounded by the folder: a full listing forgets names
   * that are gone, so a name that comes back (or becomes a regular file and is logged) starts afresh.
   */
  private readonly refused = new Set<string>();
  private lastListingMs = -Infinity;
  /** watch() was called: a watcher runs while the folder is small. */
  private watchWanted = false;
  private watcher: FSWatcher | undefined;
  private watchedAdds = 0;

  constructor(
    private readonly config: StreamFilesConfig,
    alreadyLogged: Iterable<string>,
  ) {
    for (const name of alreadyLogged) this.loggedNames.add(name);
  }

  private filePath(name: string): string {
    return path.join(this.config.dir, name);
  }

  /** Starts watching: the next call of newFiles lists the folder, and starts a watcher if it is small. */
  watch(): void {
    this.watchWanted = true;
    this.lastListingMs = -Infinity;
  }

  /** Whether a watcher runs now (see WATCH_MAX_ENTRIES). */
  get watching(): boolean {
    return this.watcher !== undefined;
  }

  /**
   * Starts a watcher, followed by a full listing. A recycled watcher is started before the old one closes, so memory
   * follows the files of the last while rather than of the whole stream's history.
   */
  private async startWatcher(): Promise<void> {
    const previous = this.watcher;
    const watcher = watch(this.config.dir, {
      ignoreInitial: true,
      depth: 0,
      // A link to a directory must not make the watcher walk (and hold watches on) what it points at.
      followSymlinks: false,
      ignored: (file, stats) => stats?.isFile() === true && !isInputFileName(path.basename(file)),
    });
    watcher.on('add', (file) => {
      this.hinted.add(path.basename(file));
      this.watchedAdds++;
    });
    watcher.on('error', (error) => this.config.logger.warn(`speed: watcher: ${error instanceof Error ? error.message : String(error)}`));
    this.watcher = watcher;
    this.watchedAdds = 0;
    // A file landing before the watcher is ready gives no hint: the next call lists the folder again.
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.lastListingMs = -Infinity;
    await previous?.close();
  }

  async close(): Promise<void> {
    this.watchWanted = false;
    await this.stopWatcher();
  }

  private async stopWatcher(): Promise<void> {
    await this.watcher?.close();
    this.watcher = undefined;
  }

  /** After a listing of `entries` entries: a watcher while the folder is small, none while it is large. */
  private async watchWhileSmall(entries: number): Promise<void> {
    if (this.watcher && entries > WATCH_MAX_ENTRIES) {
      await this.stopWatcher();
      this.config.logger.debug(`speed: ${entries} entries in ${this.config.dir}: listing it every micro-batch instead of watching it`);
    } else if (!this.watcher && this.watchWanted && entries <= WATCH_MAX_ENTRIES / 2) {
      await this.startWatcher();
    }
  }

  /** These files are logged: never report them again, and release chokidar's per-file watchers. */
  logged(names: readonly string[]): void {
    for (const name of names) {
      this.loggedNames.add(name);
      this.refused.delete(name);
    }
    this.watcher?.unwatch(names.map((name) => this.filePath(name)));
  }

  forget(names: readonly string[]): void {
    for (const name of names) this.loggedNames.delete(name);
  }

  /** The entry's stat when it is a regular file (links not followed); otherwise undefined, warned about once. */
  private async stat(name: string): Promise<fs.Stats | undefined> {
    let s: fs.Stats;
    try {
      s = await fs.promises.lstat(this.filePath(name));
    } catch {
      return undefined; // gone since the listing
    }
    const refused = notRegularFile(s);
    if (refused === undefined) return s;
    if (!this.refused.has(name)) {
      this.refused.add(name);
      this.config.logger.warn(`speed: not ingesting ${this.filePath(name)}: ${refused}`);
    }
    return undefined;
  }

  /** New complete input files, sorted by name: hints every call, a full listing when asked or when due. */
  async newFiles(nowMs: number, fullListing: boolean): Promise<NewFile[]> {
    const { clock } = this.config;
    if (this.watcher && this.watchedAdds >= WATCHER_RECYCLE_ADDS) await this.startWatcher();
    let names: string[];
    if (fullListing || !this.watcher || nowMs - this.lastListingMs >= this.config.listEveryMs) {
      this.lastListingMs = nowMs;
      names = await fs.promises.readdir(this.config.dir);
      const present = new Set(names);
      for (const name of this.refused) if (!present.has(name)) this.refused.delete(name);
      await this.watchWhileSmall(names.length);
    } else {
      names = [...this.hinted];
    }
    this.hinted.clear();
    const candidates: NewFile[] = [];
    for (const name of names.filter((n) => isInputFileName(n) && !this.loggedNames.has(n))) {
      const s = await this.stat(name);
      if (s) candidates.push({ name, size: s.size, mtimeMs: s.mtimeMs });
    }
    const young = new Set(candidates.filter((c) => clock.now() - c.mtimeMs < SETTLE_MS));
    if (young.size > 0) await clock.sleep(SETTLE_MS);
    const settled: NewFile[] = [];
    for (const candidate of candidates) {
      if (!young.has(candidate)) {
        settled.push(candidate);
        continue;
      }
      const again = await this.stat(candidate.name);
      if (again && again.size === candidate.size && again.mtimeMs === candidate.mtimeMs) settled.push(candidate);
      else this.hinted.add(candidate.name); // still being written: look again next micro-batch
    }
    return settled.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
