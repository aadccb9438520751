// Export files: a file written once under a hidden temp name (whole, or spliced from an earlier export file's bytes
// and new ones), read by any number of readers while newer ones are written, and published by rename. Each reader
// holds a reference; the file is closed, and removed if it was never published, when the last one lets go.

import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { LambdaflowError } from '../../core/errors.js';
import { removeStaleTemps, syncDirectory, writeError } from './atomic.js';

/** Reads and writes go through buffers of this size. */
const IO_BYTES = 1 << 20;
/** A reader's stream reads this much at a time. */
const STREAM_BYTES = 256 * 1024;

/**
 * A spliced file's pieces, in order: ranges of the earlier file's bytes or of the new bytes. Kept as numbers in one
 * typed array: an export after ~25 k changed users has ~50 k pieces, and an object each was most of its cost.
 */
export class SplicePieces {
  private data = new Float64Array(3 * 64);
  private used = 0;

  /** Adds bytes [from, to) of the earlier file (`fresh` false) or of the new bytes; an empty range adds nothing. */
  add(fresh: boolean, from: number, to: number): void {
    if (to <= from) return;
    if (this.used + 3 > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.used++] = fresh ? 1 : 0;
    this.data[this.used++] = from;
    this.data[this.used++] = to;
  }

  get count(): number {
    return this.used / 3;
  }

  /** Piece i: whether it is of the new bytes, and its range. */
  isFresh(i: number): boolean {
    return this.data[3 * i] === 1;
  }

  from(i: number): number {
    return this.data[3 * i + 1]!;
  }

  to(i: number): number {
    return this.data[3 * i + 2]!;
  }
}

/** Removes the temp files that processes which died left next to `target`. */
export async function removeStaleExports(target: string): Promise<void> {
  await removeStaleTemps(path.dirname(target), path.basename(target));
}

/** Removes a temp file, if there. */
export async function removeExportTemp(file: string): Promise<void> {
  await fs.promises.rm(file, { force: true }).catch(() => undefined);
}

export class ExportFile {
  private refs = 1;
  private published = false;

  private constructor(
    private readonly handle: fs.promises.FileHandle,
    private filePath: string,
    /** The file's length in bytes. */
    readonly size: number,
  ) {}

  /**
   * Writes a new file at `file` (a temp path) from the chunks `steps` hands out, each written before the next step
   * (which may write over it); a step handing out nothing is a pause, for the event loop. Resolves with the file
   * (the caller holds its first reference) and what `steps` returned; a file it could not finish is removed.
   */
  static async write<T>(file: string, steps: Iterator<Uint8Array | undefined, T>): Promise<{ file: ExportFile; result: T }> {
    const handle = await openNew(file);
    try {
      let size = 0;
      for (let step = steps.next(); ; step = steps.next()) {
        if (step.done) return { file: new ExportFile(handle, file, size), result: step.value };
        if (step.value) {
          await writeAt(handle, step.value, step.value.length, size, file);
          size += step.value.length;
        } else {
          await yieldToEvents();
        }
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      await removeExportTemp(file);
      throw error;
    }
  }

  /**
   * Writes a new file at `file` (a temp path) from the pieces, in order: ranges of `earlier`'s bytes (read in order,
   * a buffer at a time) and of `fresh`. Throws E_STATE when `earlier` is shorter than a piece says.
   */
  static async splice(earlier: ExportFile, pieces: SplicePieces, fresh: Buffer, size: number, file: string): Promise<ExportFile> {
    const handle = await openNew(file);
    const spliced = new ExportFile(handle, file, size);
    try {
      // A published file is merged_view.csv: someone may have rewritten it in place since (it is read-only, but not
      // to root). A different length is caught here; the next export is then written whole.
      const earlierSize = (await earlier.handle.stat()).size;
      if (earlierSize !== earlier.size)
        throw new LambdaflowError('E_STATE', `${earlier.path} changed since it was written (${earlierSize} bytes, not ${earlier.size})`, {
          file: earlier.path,
        });
      const written = await spliceInto(earlier, pieces, fresh, handle, file);
      if (written !== size) throw new LambdaflowError('E_STATE', `${file}: spliced ${written} bytes, expected ${size}`, { file });
      return spliced;
    } catch (error) {
      await spliced.release();
      throw error;
    }
  }

  /** The file as it stands now: its temp path, or the target it was published as. */
  get path(): string {
    return this.filePath;
  }

  get isPublished(): boolean {
    return this.published;
  }

  /** Another reference (release it when done). */
  acquire(): this {
    this.refs++;
    return this;
  }

  /** Drops a reference; the last one closes the file, and removes it if it was never published. */
  async release(): Promise<void> {
    // One release too many would close the file under a reader still holding it.
    if (this.refs <= 0) throw new LambdaflowError('E_STATE', `${this.filePath} was released more often than acquired`);
    if (--this.refs > 0) return;
    await this.handle.close().catch(() => undefined);
    if (!this.published) await removeExportTemp(this.filePath);
  }

  /**
   * The file's bytes as a stream that holds a reference until it is destroyed (read to the end, failed, or a client
   * gone halfway). Its own reads, not a file stream: destroying one of those closes the descriptor under everyone.
   */
  stream(): Readable {
    this.acquire();
    let position = 0;
    const stream: Readable = new Readable({
      highWaterMark: STREAM_BYTES,
      read: (size) => {
        const length = Math.min(Math.max(size, 1), this.size - position);
        if (length <= 0) return void stream.push(null);
        this.handle.read(Buffer.allocUnsafe(length), 0, length, position).then(
          ({ bytesRead, buffer }) => {
            position += bytesRead;
            stream.push(bytesRead === 0 ? null : buffer.subarray(0, bytesRead));
          },
          (error: Error) => stream.destroy(error),
        );
      },
      destroy: (error, callback) => {
        void this.release();
        callback(error);
      },
    });
    return stream;
  }

  /** Reads bytes [position, position + buffer.length) or fewer at the end; returns how many. */
  async read(buffer: Buffer, position: number): Promise<number> {
    return (await this.handle.read(buffer, 0, buffer.length, position)).bytesRead;
  }

  /**
   * Makes the file durable, read-only (later exports are copied from it) and renames it to `target` (readers keep
   * reading it); only a temp file is published.
   */
  async publish(target: string): Promise<void> {
    if (this.published) throw new LambdaflowError('E_STATE', `${this.filePath} is already published`);
    try {
      await this.handle.datasync();
      await fs.promises.chmod(this.filePath, 0o444);
      await fs.promises.rename(this.filePath, target);
    } catch (cause) {
      throw writeError(target, cause);
    }
    this.published = true;
    this.filePath = target;
    await syncDirectory(path.dirname(target));
  }

  /** Whether `target` is still this file (published, and not removed or replaced since). */
  async isAt(target: string): Promise<boolean> {
    if (!this.published) return false;
    const [mine, there] = await Promise.all([this.handle.stat(), fs.promises.stat(target).catch(() => undefined)]);
    return there !== undefined && there.ino === mine.ino && there.dev === mine.dev;
  }
}

/** Creates a new file at `file` (a temp path), open for writing and reading. */
async function openNew(file: string): Promise<fs.promises.FileHandle> {
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    return await fs.promises.open(file, 'wx+');
  } catch (cause) {
    await removeExportTemp(file);
    throw writeError(file, cause);
  }
}

/** Writes bytes[0, length) at `position`, all of them. */
async function writeAt(out: fs.promises.FileHandle, bytes: Uint8Array, length: number, position: number, file: string): Promise<void> {
  try {
    let done = 0;
    while (done < length) done += (await out.write(bytes, done, length - done, position + done)).bytesWritten;
  } catch (cause) {
    throw writeError(file, cause);
  }
}

/** Writes the pieces into `out`; returns the bytes written. */
async function spliceInto(earlier: ExportFile, pieces: SplicePieces, fresh: Buffer, out: fs.promises.FileHandle, file: string): Promise<number> {
  // The earlier file's bytes [inFrom, inTo) are in `input`; pieces read it in order, so each byte is read once.
  const input = Buffer.allocUnsafe(IO_BYTES);
  let inFrom = 0;
  let inTo = 0;
  const output = Buffer.allocUnsafe(IO_BYTES);
  let outAt = 0;
  let position = 0;
  const flush = async (): Promise<void> => {
    await writeAt(out, output, outAt, position, file);
    position += outAt;
    outAt = 0;
  };
  // Only reads and writes wait: a piece's bytes are copied synchronously, so ~50 k pieces cost no chain of promises.
  for (let i = 0; i < pieces.count; i++) {
    const isFresh = pieces.isFresh(i);
    const to = pieces.to(i);
    for (let at = pieces.from(i); at < to;) {
      if (!isFresh && (at < inFrom || at >= inTo)) {
        const bytesRead = await earlier.read(input, at);
        if (bytesRead === 0) throw new LambdaflowError('E_STATE', `${earlier.path} ends at byte ${at}, before ${to}`, { file: earlier.path });
        inFrom = at;
        inTo = at + bytesRead;
      }
      const n = Math.min((isFresh ? to : Math.min(to, inTo)) - at, IO_BYTES - outAt);
      if (isFresh) fresh.copy(output, outAt, at, at + n);
      else input.copy(output, outAt, at - inFrom, at - inFrom + n);
      outAt += n;
      at += n;
      if (outAt === IO_BYTES) await flush();
    }
  }
  await flush();
  return position;
}
