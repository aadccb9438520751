// What a crash leaves mid-write is removed by the folder's owner at start: hidden temps of dead pids, and
// write-file-atomic's `<target>.<number>` temps last changed before the owner started (a newer one is a write in flight).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStaleTemps } from '../../../src/io/files/atomic.js';
import { QUARANTINE_FILE, dataLayout } from '../../../src/io/files/layout.js';
import { DELTA_PATTERN } from '../../../src/io/views/deltas.js';
import { requireBuild, runCliOk } from '../../helpers/cli.js';
import { chunkText, ingestStreamFiles, writeBatchInputs } from '../../helpers/pipeline.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const tempRoot = tempRoots();
const HOUR_AGO = new Date(Date.now() - 3_600_000);

/** Writes `name` in `dir`, last changed an hour ago (before this process started) unless `fresh`. */
function leave(dir: string, name: string, fresh = false): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), 'half a write');
  if (!fresh) fs.utimesSync(path.join(dir, name), HOUR_AGO, HOUR_AGO);
}

describe('removeStaleTemps with write-file-atomic targets', () => {
  it('removes `<target>.<number>` left before this process started, keeps the target, a fresh temp and other files', async () => {
    const dir = path.join(tempRoot().data, 'realtime');
    for (const name of ['head.json', 'head.json.3141592653', 'notes.2024', 'head.json.x1']) leave(dir, name);
    leave(dir, 'head.json.27', true);
    await removeStaleTemps(dir, '', 'head.json');
    expect(fs.readdirSync(dir).sort()).toEqual(['head.json', 'head.json.27', 'head.json.x1', 'notes.2024']);
  });

  it('takes a pattern of targets (delta files, quarantine files)', async () => {
    const dir = path.join(tempRoot().data, 'q');
    for (const name of ['a.csv.bad', 'a.csv.bad.99', 'a.csv.99', 'delta-000000000001-000000000002.csv.7']) leave(dir, name);
    await removeStaleTemps(dir, '', QUARANTINE_FILE);
    expect(fs.readdirSync(dir).sort()).toEqual(['a.csv.99', 'a.csv.bad', 'delta-000000000001-000000000002.csv.7']);
    await removeStaleTemps(dir, '', DELTA_PATTERN);
    expect(fs.readdirSync(dir).sort()).toEqual(['a.csv.99', 'a.csv.bad']);
  });

  it('regression: speed at start removes what write-file-atomic left in serving/realtime, its deltas and the quarantine', async () => {
    requireBuild();
    const { data } = tempRoot();
    writeBatchInputs(data, { 'history.csv': chunkText(1, 20, 5) });
    ingestStreamFiles(data, [chunkText(2, 20, 5)]);
    const layout = dataLayout(data);
    const left = [
      path.join(layout.servingRealtime, 'head.json.1234567'),
      path.join(layout.realtimeDeltas, 'delta-000000000001-000000000001.csv.42'),
      path.join(layout.quarantine, 'x.csv.bad.9'),
    ];
    for (const file of left) leave(path.dirname(file), path.basename(file));
    await runCliOk(['speed', '--once', '--data', data, '--log-level', 'warn']);
    expect(left.filter((file) => fs.existsSync(file))).toEqual([]);
  });
});
