// The one reader of a batch view's _MANIFEST.json: every field it returns is checked, a wrong one reads as absent.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFEST_FILE, readBatchManifest } from '../../../src/io/views/manifest.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

function viewWith(manifest: string | undefined): string {
  const dir = path.join(newTempRoot().data, 'batch-1');
  fs.mkdirSync(dir);
  if (manifest !== undefined) fs.writeFileSync(path.join(dir, MANIFEST_FILE), manifest);
  return dir;
}

const NOTHING = {
  streamWatermark: undefined,
  streamWatermarks: undefined,
  users: undefined,
  userBuckets: undefined,
  rowsRead: undefined,
  purchases: undefined,
  purchaseCentsTotal: undefined,
  badRowsTotal: undefined,
  inputs: undefined,
};

describe('readBatchManifest', () => {
  it('reads what the batch job writes', () => {
    const inputs = [{ name: 'a.csv', source: 'batch_input', size: 10 }];
    const written = {
      streamWatermark: 4,
      streamWatermarks: { p0: 2 },
      users: 3,
      userBuckets: 5,
      rowsRead: 9,
      purchases: 6,
      purchaseCentsTotal: 700,
      badRowsTotal: 1,
      inputs,
      threads: 2,
    };
    expect(readBatchManifest(viewWith(JSON.stringify(written)))).toEqual({ found: true, ...written, threads: undefined });
  });

  it.each([
    { name: 'no manifest', manifest: undefined, found: false },
    { name: 'not JSON', manifest: '{"streamWatermark": 3', found: true },
    { name: 'JSON null', manifest: 'null', found: true },
    { name: 'a JSON number', manifest: '7', found: true },
  ])('$name says nothing', ({ manifest, found }) => {
    const facts = readBatchManifest(viewWith(manifest));
    expect(facts).toEqual({ found, ...NOTHING });
  });

  it('a manifest naming no partition streams has no stream watermarks besides the default one', () => {
    expect(readBatchManifest(viewWith('{"streamWatermark": 0}'))).toMatchObject({ streamWatermark: 0, streamWatermarks: {} });
  });

  it.each([
    { name: 'a negative watermark', manifest: { streamWatermark: -1 }, field: 'streamWatermark' },
    { name: 'a fractional watermark', manifest: { streamWatermark: 1.5 }, field: 'streamWatermark' },
    { name: 'a string watermark', manifest: { streamWatermark: '4' }, field: 'streamWatermark' },
    { name: 'a partition watermark that is not a seq', manifest: { streamWatermarks: { p0: -2 } }, field: 'streamWatermarks' },
    { name: 'partition watermarks as an array', manifest: { streamWatermarks: [1] }, field: 'streamWatermarks' },
    { name: 'a fractional user count', manifest: { users: 1.5 }, field: 'users' },
    { name: 'a negative (user, bucket) count', manifest: { userBuckets: -1 }, field: 'userBuckets' },
    { name: 'a string total', manifest: { badRowsTotal: '1' }, field: 'badRowsTotal' },
    { name: 'an input without a size', manifest: { inputs: [{ name: 'a.csv', source: 'batch_input' }] }, field: 'inputs' },
  ])('$name reads as absent', ({ manifest, field }) => {
    expect(readBatchManifest(viewWith(JSON.stringify(manifest)))[field as keyof typeof NOTHING]).toBeUndefined();
  });
});
