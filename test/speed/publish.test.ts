// Realtime checkpoints and the head prove themselves (issue 24): what SpeedViewFiles publishes is read back whole; a
// checkpoint whose parts or _REALTIME.json are cut, corrupted, missing, unlisted, too big or from before checks is
// refused naming it, by the serving layer's reader (mergeCheckpoint) and by the speed layer's recovery
// (latestCheckpoint: removed, an older one used); a damaged head.json likewise.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { LambdaflowError } from '../../src/core/errors.js';
import { BUCKETS_HEADER } from '../../src/core/view-format.js';
import { checkedJsonText } from '../../src/io/files/content-check.js';
import { dataLayout } from '../../src/io/files/layout.js';
import { type Logger } from '../../src/io/runtime/logger.js';
import { MAX_STATE_JSON_BYTES, mergeCheckpoint, readRealtimeHead } from '../../src/io/views/views.js';
import { type RealtimeHead } from '../../src/speed/ports.js';
import { SpeedViewFiles } from '../../src/speed/publish.js';
import { seeded } from '../helpers/prng.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const tempRoot = tempRoots();
const BUCKET_SECONDS = 3_600;

function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, error() {}, info() {}, debug() {}, warn: (message) => void warnings.push(message) };
}

const headAt = (throughSeq: number): RealtimeHead =>
  ({ watermark: 0, throughSeq, lastIngestedAtMs: null, rowsIngested: 0, badRows: 0, startedAtMs: 0, sourceUnreadableSinceMs: null }) as unknown as RealtimeHead;

/** Two parts of 80 users each, with their total in cents (what an intact read must give back). */
function partsOf(seed: number): { parts: Buffer[]; cents: number } {
  const random = seeded(seed);
  let cents = 0;
  const parts = [0, 1].map((p) => {
    const lines = Array.from({ length: 80 }, (_, i) => {
      const amount = random.between(1, 10 ** 6);
      cents += amount;
      return `u${p}-${i},${(i % 3) * BUCKET_SECONDS},${random.between(1, 9)},${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}\n`;
    });
    return Buffer.from(`${BUCKETS_HEADER}\n${lines.join('')}`);
  });
  return { parts, cents };
}

async function published(): Promise<{ files: SpeedViewFiles; logger: ReturnType<typeof capturingLogger>; older: string; newest: string; cents: number }> {
  const layout = dataLayout(tempRoot('checkpoints-').data);
  const logger = capturingLogger();
  const files = new SpeedViewFiles(layout, logger, 3);
  await files.publishCheckpoint(headAt(4), partsOf(1).parts, 1_000);
  const { parts, cents } = partsOf(2);
  await files.publishCheckpoint(headAt(9), parts, 2_000);
  return { files, logger, older: path.join(layout.servingRealtime, 'realtime-1000'), newest: path.join(layout.servingRealtime, 'realtime-2000'), cents };
}

const sumCents = (table: UserAggTable): number => table.toSortedBucketTotals().reduce((sum, t) => sum + t.cents, 0);

function refusal(read: () => unknown): LambdaflowError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(LambdaflowError);
    return error as LambdaflowError;
  }
  throw new Error('read without an error');
}

describe('realtime checkpoints prove themselves', () => {
  it('reads an intact checkpoint back whole, by both readers', async () => {
    const { files, logger, newest, cents } = await published();
    const table = new UserAggTable();
    mergeCheckpoint(newest, table, BUCKET_SECONDS);
    expect(sumCents(table)).toBe(cents);
    const latest = files.latestCheckpoint()!;
    expect([latest.name, latest.throughSeq, latest.parts.length]).toEqual([newest, 9, 2]);
    expect(logger.warnings).toEqual([]);
  });

  const part = (dir: string): string => path.join(dir, 'part-00001');
  const cutAt =
    (at: (bytes: Buffer) => number) =>
    (dir: string): void => {
      const bytes = fs.readFileSync(part(dir));
      fs.writeFileSync(part(dir), bytes.subarray(0, at(bytes)));
    };
  it.each<[string, (dir: string) => void, RegExp]>([
    ['a part cut at a line boundary (it still parses)', cutAt((b) => b.indexOf('\n', b.length / 2) + 1), /part-00001: expected 81 lines, found \d+/],
    ['a part cut inside a line', cutAt((b) => b.length - 3), /part-00001: expected 81 lines, found 80/],
    ['a part cut to nothing', cutAt(() => 0), /part-00001: expected 81 lines, found 0/],
    [
      'a flipped byte',
      (dir) => {
        const b = fs.readFileSync(part(dir));
        b[200] = b[200]! ^ 0x01;
        fs.writeFileSync(part(dir), b);
      },
      /part-00001: expected CRC-32 [0-9a-f]{8}, found [0-9a-f]{8}/,
    ],
    ['a missing part', (dir) => fs.rmSync(part(dir)), /part-00001 listed in its _REALTIME.json but missing/],
    ['an unlisted part', (dir) => fs.copyFileSync(part(dir), path.join(dir, 'part-00002')), /part-00002 is not among the parts/],
    [
      'a checkpoint whose _REALTIME.json lists no parts',
      (dir) => {
        const { crc32: _crc, parts: _parts, ...meta } = JSON.parse(fs.readFileSync(path.join(dir, '_REALTIME.json'), 'utf8')) as Record<string, unknown>;
        fs.writeFileSync(path.join(dir, '_REALTIME.json'), checkedJsonText(meta));
      },
      /lists no parts with their checks/,
    ],
  ])('refuses %s: serve and merge refuse it, speed removes it and uses the older one', async (_name, damage, problem) => {
    const { files, logger, older, newest } = await published();
    damage(newest);
    const error = refusal(() => mergeCheckpoint(newest, new UserAggTable(), BUCKET_SECONDS));
    expect(error.code).toBe('E_STATE');
    expect(error.message).toMatch(`damaged realtime checkpoint ${newest}: `);
    expect(error.message).toMatch(problem);
    const latest = files.latestCheckpoint()!;
    expect([latest.name, latest.throughSeq]).toEqual([older, 4]);
    expect(logger.warnings).toEqual([expect.stringContaining(`damaged realtime checkpoint ${newest}`)]);
    expect(fs.existsSync(newest)).toBe(false);
  });
});

/** Damage to a JSON state file: a digit flipped (it still parses), cut, too big, from before checks. */
const jsonDamage: [string, (text: string) => string, RegExp][] = [
  [
    'a digit of throughSeq changed (it still parses)',
    (text) => text.replace(/"throughSeq":(\d)/, (_m, d: string) => `"throughSeq":${(Number(d) + 1) % 10}`),
    /expected CRC-32 [0-9a-f]{8}, found [0-9a-f]{8}/,
  ],
  ['cut', (text) => text.slice(0, text.length - 12), /does not end with its crc32/],
  ['empty', () => '', /does not end with its crc32/],
  [
    'too big',
    (text) => text.replace('{', `{"pad":"${'x'.repeat(MAX_STATE_JSON_BYTES)}",`),
    new RegExp(`is \\d+ bytes, more than the ${MAX_STATE_JSON_BYTES} bytes`),
  ],
  [
    'from before checks (no crc32)',
    (text) => JSON.stringify((({ crc32: _crc, ...rest }) => rest)(JSON.parse(text) as Record<string, unknown>)),
    /does not end with its crc32/,
  ],
];

describe('JSON state files prove themselves', () => {
  it.each(jsonDamage)('refuses a checkpoint whose _REALTIME.json is %s: speed removes it and uses the older one', async (_name, damage, problem) => {
    const { files, logger, older, newest } = await published();
    const meta = path.join(newest, '_REALTIME.json');
    fs.writeFileSync(meta, damage(fs.readFileSync(meta, 'utf8')));
    const error = refusal(() => mergeCheckpoint(newest, new UserAggTable(), BUCKET_SECONDS));
    expect(error.message).toContain(meta);
    expect(error.message).toMatch(problem);
    expect(files.latestCheckpoint()!.name).toBe(older);
    expect(logger.warnings).toEqual([expect.stringContaining(meta)]);
    expect(fs.existsSync(newest)).toBe(false);
  });

  it.each(jsonDamage)('refuses a head.json that is %s, naming it', async (_name, damage, problem) => {
    const layout = dataLayout(tempRoot('head-').data);
    const files = new SpeedViewFiles(layout, capturingLogger(), 3);
    expect(readRealtimeHead(layout.realtimeHead)).toBeUndefined();
    await files.publishHead(headAt(17));
    expect(readRealtimeHead(layout.realtimeHead)).toMatchObject({ watermark: 0, throughSeq: 17 });
    fs.writeFileSync(layout.realtimeHead, damage(fs.readFileSync(layout.realtimeHead, 'utf8')));
    const error = refusal(() => readRealtimeHead(layout.realtimeHead));
    expect(error.code).toBe('E_STATE');
    expect(error.message).toContain(layout.realtimeHead);
    expect(error.message).toMatch(problem);
  });
});
