// Export files: spliced byte for byte from an earlier file and new bytes, readable while newer ones are written,
// published by rename, and removed (unless published) when the last reader lets go — a reader that stops halfway
// included; a crashed process's temp files are cleaned up, a live one's kept.

import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { hiddenTempPath } from '../../../src/io/files/atomic.js';
import { ExportFile, SplicePieces, removeStaleExports } from '../../../src/io/files/export-file.js';
import { LambdaflowError } from '../../../src/core/errors.js';
import { waitFor } from '../../helpers/pipeline.js';
import { deadPid } from '../../helpers/file-system.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const tempRoot = tempRoots();

/** A first export file holding `content`, at a temp path next to `target`. */
async function firstFile(target: string, content: string | Buffer): Promise<ExportFile> {
  return (await ExportFile.write(hiddenTempPath(target), [Buffer.from(content)].values())).file;
}

const namesIn = (dir: string): string[] => fs.readdirSync(dir).sort();

function splicePieces(list: readonly { fresh: boolean; from: number; to: number }[]): SplicePieces {
  const pieces = new SplicePieces();
  for (const { fresh, from, to } of list) pieces.add(fresh, from, to);
  return pieces;
}

describe('ExportFile', () => {
  it('is written from the chunks its steps hand out, each before the next step (which may reuse its buffer), pausing on empty steps', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'view', 'merged_view.csv');
    const reused = Buffer.alloc(100_000);
    let expected = '';
    function* steps(): Generator<Uint8Array | undefined, string> {
      for (let i = 0; i < 30; i++) {
        // The same buffer every time, filled anew: each chunk must be written before the next step.
        const line = `chunk ${i} `.repeat(1 + i * 300).slice(0, reused.length);
        const length = reused.write(line);
        expected += line;
        yield reused.subarray(0, length);
        // Other work queued now runs before the next step.
        let ran = false;
        setImmediate(() => (ran = true));
        yield undefined;
        if (!ran) throw new Error('an empty step did not let the event loop turn');
      }
      return 'done';
    }
    const { file, result } = await ExportFile.write(hiddenTempPath(target), steps());
    expect(result).toBe('done');
    expect(file.size).toBe(Buffer.byteLength(expected));
    expect(await text(file.stream())).toBe(expected);
    await file.release();
    expect(namesIn(path.dirname(target))).toEqual([]);
  });

  it('removes a file its steps failed to finish, and says why', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'view', 'merged_view.csv');
    function* steps(): Generator<Uint8Array | undefined, void> {
      yield Buffer.from('half a file\n');
      throw new LambdaflowError('E_STATE', 'the view changed tables');
    }
    const error = await ExportFile.write(hiddenTempPath(target), steps()).catch((e: unknown) => e);
    expect((error as LambdaflowError).code).toBe('E_STATE');
    expect(namesIn(path.dirname(target))).toEqual([]);
  });

  it('splices ranges of the earlier file and new bytes, in order, across buffer boundaries', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'view', 'merged_view.csv');
    // 3 MiB of distinct bytes, so a range read from the wrong place shows.
    const earlierBytes = Buffer.alloc(3 << 20);
    for (let i = 0; i < earlierBytes.length; i++) earlierBytes[i] = (i * 7 + (i >> 11)) & 0xff;
    const earlier = await firstFile(target, earlierBytes);
    const fresh = Buffer.from('NEW-LINES-A|NEW-LINES-B|');
    const list = [
      { fresh: false, from: 0, to: 10 },
      { fresh: true, from: 0, to: 12 },
      { fresh: false, from: 10, to: (1 << 20) + 5 },
      { fresh: false, from: (2 << 20) - 3, to: (3 << 20) - 1 },
      { fresh: true, from: 12, to: fresh.length },
    ];
    const expected = Buffer.concat(list.map(({ fresh: isFresh, from, to }) => (isFresh ? fresh : earlierBytes).subarray(from, to)));
    const spliced = await ExportFile.splice(earlier, splicePieces(list), fresh, expected.length, hiddenTempPath(target));
    expect(spliced.size).toBe(expected.length);
    expect(Buffer.compare(fs.readFileSync(spliced.path), expected)).toBe(0);
    await earlier.release();
    await spliced.release();
    expect(namesIn(path.dirname(target)), 'temp files removed once released').toEqual([]);
  });

  it('refuses an earlier file shorter than the pieces say (E_STATE), leaving no file behind', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'merged_view.csv');
    const earlier = await firstFile(target, 'abc');
    const error = await ExportFile.splice(earlier, splicePieces([{ fresh: false, from: 0, to: 10 }]), Buffer.alloc(0), 10, hiddenTempPath(target)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LambdaflowError);
    expect((error as LambdaflowError).code).toBe('E_STATE');
    await earlier.release();
    expect(namesIn(data)).toEqual([]);
  });

  it('is read to the end by a reader holding it while its owner lets go; removed after the last reader', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'merged_view.csv');
    const content = 'x'.repeat(1 << 20) + 'end\n';
    const file = await firstFile(target, content);
    const stream = file.stream();
    await file.release();
    expect(namesIn(data), 'still there while a reader holds it').toHaveLength(1);
    expect(await text(stream)).toBe(content);
    await waitFor(() => namesIn(data).length === 0, 5_000, 'the file removed after its last reader');
  });

  it('is read by several readers piping it at once (as the HTTP server sends it), and closed and removed after the last', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'merged_view.csv');
    const content = Buffer.from('z'.repeat(3 << 20) + 'end\n');
    const file = await firstFile(target, content);
    const received = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<Buffer>((resolve, reject) => {
            const chunks: Buffer[] = [];
            const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) });
            sink.once('finish', () => resolve(Buffer.concat(chunks)));
            file.stream().once('error', reject).pipe(sink);
          }),
      ),
    );
    for (const bytes of received) expect(bytes.equals(content)).toBe(true);
    // Closing waits for no reader left behind (it did, forever, when readers were file streams of the handle).
    await file.release();
    await waitFor(() => namesIn(data).length === 0, 5_000, 'the file removed after the piped readers');
  });

  it('refuses a release more than it was acquired (it would close the file under a reader)', async () => {
    const { data } = tempRoot();
    const file = await firstFile(path.join(data, 'merged_view.csv'), 'v1\n');
    await file.release();
    const error = await file.release().catch((e: unknown) => e);
    expect((error as LambdaflowError).code).toBe('E_STATE');
  });

  it('is released by a reader that stops halfway (a client that went away)', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'merged_view.csv');
    const file = await firstFile(target, 'y'.repeat(4 << 20));
    const stream = file.stream();
    await new Promise((resolve) => stream.once('data', resolve));
    stream.destroy();
    await file.release();
    await waitFor(() => namesIn(data).length === 0, 5_000, 'the file removed after the reader stopped');
  });

  it('publishes by rename: durable under the target name, kept after release, read on by earlier readers; once only', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'merged_view.csv');
    const file = await firstFile(target, 'v1\n');
    const reader = file.stream();
    await file.publish(target);
    expect(file.isPublished).toBe(true);
    expect(file.path).toBe(target);
    expect(fs.readFileSync(target, 'utf8')).toBe('v1\n');
    expect(await text(reader)).toBe('v1\n');
    const again = await file.publish(target).catch((e: unknown) => e);
    expect((again as LambdaflowError).code).toBe('E_STATE');
    // The next version replaces it; the earlier file (now unlinked) still reads for whoever holds it.
    const next = await ExportFile.splice(
      file,
      splicePieces([
        { fresh: false, from: 0, to: 3 },
        { fresh: true, from: 0, to: 3 },
      ]),
      Buffer.from('v2\n'),
      6,
      hiddenTempPath(target),
    );
    await next.publish(target);
    expect(fs.readFileSync(target, 'utf8')).toBe('v1\nv2\n');
    expect(await text(file.stream())).toBe('v1\n');
    await file.release();
    await next.release();
    expect(namesIn(data)).toEqual(['merged_view.csv']);
  });
});

describe('removeStaleExports', () => {
  it("removes the temp files of a process that died and of an earlier holder of this pid, keeps this one's and other files", async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'merged_view.csv');
    const dead = deadPid();
    fs.writeFileSync(path.join(data, `.merged_view.csv.tmp-${dead}-3`), 'left by a crash');
    const ours = hiddenTempPath(target);
    fs.writeFileSync(ours, 'ours, being written');
    // Left by an earlier process with this pid (a container restarted after a kill -9 runs as pid 1 again).
    const earlier = path.join(data, `.merged_view.csv.tmp-${process.pid}-999999`);
    fs.writeFileSync(earlier, 'an earlier holder of this pid');
    const beforeThisProcess = new Date(Date.now() - process.uptime() * 1000 - 60_000);
    fs.utimesSync(earlier, beforeThisProcess, beforeThisProcess);
    fs.writeFileSync(target, 'published');
    await removeStaleExports(target);
    expect(namesIn(data)).toEqual([path.basename(ours), 'merged_view.csv']);
  });
});
