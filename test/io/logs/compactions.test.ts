// The compaction records (master/stream/compactions.jsonl) prove themselves line by line (issue 24): a digit flipped in
// a record that still parses would move where a seq's rows are read from, so it is refused naming the file and line.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { appendCompactionRecord, readCompactions } from '../../../src/io/logs/compactions.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

function recordsOfTwoFiles(): string {
  const file = path.join(newTempRoot().data, 'master', 'stream', 'compactions.jsonl');
  appendCompactionRecord(file, { compacted: { first: 1, last: 2, file: 'seqs-1-2.csv', bytes: 300, seqEnds: [120, 300] } });
  appendCompactionRecord(file, { compacted: { first: 3, last: 3, file: 'seqs-3-3.csv', bytes: 90, seqEnds: [90] } });
  appendCompactionRecord(file, { removed: { through: 3 } });
  return file;
}

it('regression (issue 24): a seqEnds digit flipped in a middle record, still JSON, is E_STATE naming the file and the line', () => {
  const file = recordsOfTwoFiles();
  expect(readCompactions(file)).toMatchObject({ compactedThrough: 3, removedThrough: 3 });
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines[1] = lines[1]!.replace('"seqEnds":[90]', '"seqEnds":[91]');
  fs.writeFileSync(file, lines.join('\n'));
  expect(() => readCompactions(file)).toThrow(
    expect.objectContaining({ code: 'E_STATE', message: expect.stringMatching(/is damaged at line 2: expected CRC-32 /), context: { file, line: 2 } }),
  );
});

it('a record a crash cut short at the end is left out, and the next append cuts it off', () => {
  const file = recordsOfTwoFiles();
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.slice(0, -10));
  expect(readCompactions(file)).toMatchObject({ compactedThrough: 3, removedThrough: 0 });
  appendCompactionRecord(file, { removed: { through: 3 } });
  expect(fs.readFileSync(file, 'utf8')).toBe(text);
});
