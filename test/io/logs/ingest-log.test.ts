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
