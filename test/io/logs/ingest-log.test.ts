// The ingest log under a full disk: an append is whole or absent, so the log stays readable and seqs never repeat.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { IngestLogWriter, readIngestLog } from '../../../src/io/logs/ingest-log.js';
import { tmpfsMounts } from '../../helpers/file-system.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const newTempRoot = tempRoots();
const mountTmpfs = tmpfsMounts();

it('regression: a failed append leaves no half line and no repeated seq, and appends resume when space returns', (context) => {
  const disk = path.join(newTempRoot().root, 'disk');
  if (!mountTmpfs(disk, 64 << 10)) {
    context.skip(); // needs root and tmpfs; CI runs as root
    return;
  }
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

/** Flips the low bit of the last digit of `field` in line `line` (1-based): still a digit, so the line still parses. */
function flipDigitOfField(file: string, line: number, field: string): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines[line - 1] = lines[line - 1]!.replace(new RegExp(`("${field}":\\d*)(\\d)`), (_all, head: string, digit: string) => `${head}${Number(digit) ^ 1}`);
  fs.writeFileSync(file, lines.join('\n'));
}

it('regression (issue 24): a size flipped in a middle entry, still JSON, is refused naming the log and the line', () => {
  const logPath = path.join(newTempRoot().data, 'ingest', 'ingest.log');
  const { writer } = IngestLogWriter.open(logPath);
  writer.append(
    [
      { name: 'a.csv', size: 2583 },
      { name: 'b.csv', size: 2617 },
      { name: 'c.csv', size: 2629 },
    ],
    1_000,
  );
  writer.close();
  flipDigitOfField(logPath, 2, 'size');
  expect(() => readIngestLog(logPath)).toThrow(
    expect.objectContaining({
      code: 'E_STATE',
      message: expect.stringMatching(new RegExp(`^the ingest log ${logPath} is damaged at line 2: expected CRC-32 `)),
      context: { file: logPath, line: 2 },
    }),
  );
});

it('a log an older version wrote (lines without checks) is read, and appended to with checks; a torn last line is left out', () => {
  const logPath = path.join(newTempRoot().data, 'ingest', 'ingest.log');
  fs.mkdirSync(path.dirname(logPath));
  fs.writeFileSync(logPath, '{"seq":1,"name":"a.csv","size":10,"ingestedAtMs":1}\n{"seq":2,"name":"b.csv","size":20,"ingestedAtMs":1}\n{"seq":3,"na');
  const { writer, log } = IngestLogWriter.open(logPath);
  expect(log.entries.map((e) => e.name)).toEqual(['a.csv', 'b.csv']);
  writer.append([{ name: 'c.csv', size: 30 }], 2);
  writer.close();
  expect(readIngestLog(logPath).entries).toEqual([
    { seq: 1, name: 'a.csv', size: 10, ingestedAtMs: 1 },
    { seq: 2, name: 'b.csv', size: 20, ingestedAtMs: 1 },
    { seq: 3, name: 'c.csv', size: 30, ingestedAtMs: 2 },
  ]);
  expect(fs.readFileSync(logPath, 'utf8').split('\n')[2]).toMatch(/^\{"seq":3,"name":"c\.csv","size":30,"ingestedAtMs":2,"crc32":\d+\}$/);
});

it('a folded log proves itself too: its first line and kept entries carry their checks', () => {
  const logPath = path.join(newTempRoot().data, 'ingest', 'ingest.log');
  const { writer } = IngestLogWriter.open(logPath);
  writer.append(
    [
      { name: 'a.csv', size: 1 },
      { name: 'b.csv', size: 2 },
      { name: 'c.csv', size: 3 },
    ],
    1,
  );
  expect(writer.fold(2)).toEqual(['a.csv', 'b.csv']);
  writer.close();
  flipDigitOfField(logPath, 1, 'compactedThrough');
  expect(() => readIngestLog(logPath)).toThrow(expect.objectContaining({ code: 'E_STATE', context: { file: logPath, line: 1 } }));
});
