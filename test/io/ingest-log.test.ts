// The ingest log under a full disk: an append is whole or absent, so the log stays readable and seqs never repeat.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { IngestLogWriter, readIngestLog } from '../../src/io/ingest-log.js';
import { tempDataDir } from '../helpers/pipeline.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

it('regression: a failed append leaves no half line and no repeated seq, and appends resume when space returns', (context) => {
  const dir = tempDataDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const disk = path.join(dir, 'disk');
  fs.mkdirSync(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk], { stdio: 'ignore' });
  } catch {
    context.skip(); // needs root and tmpfs; CI runs as root
    return;
  }
  cleanups.push(() => execFileSync('umount', ['-l', disk]));
  const filler = path.join(disk, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(16 << 10));
  const logPath = path.join(disk, 'ingest.log');
  const { writer } = IngestLogWriter.open(logPath);
  const longName = 'x'.repeat(200);
  let appended = 0;
  let failures = 0;
  for (let i = 0; i < 2_000 && failures === 0; i++) {
    try {
      appended += writer.append([{ name: `${longName}-${i}.csv`, size: i }], 1_000 + i).length;
    } catch (error) {
      expect((error as { code?: string }).code).toBe('E_WRITE');
      failures++;
    }
  }
  expect(failures).toBe(1);
  expect(readIngestLog(logPath).entries.length).toBe(appended);
  expect(fs.statSync(logPath).size).toBe(fs.readFileSync(logPath, 'utf8').lastIndexOf('\n') + 1);

  // Space returns: the next append continues the sequence.
  fs.rmSync(filler);
  expect(writer.append([{ name: 'after.csv', size: 1 }], 5)[0]!.seq).toBe(appended + 1);
  writer.close();
  expect(readIngestLog(logPath).entries.length).toBe(appended + 1);
});
