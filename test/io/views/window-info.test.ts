// The one reader of a speed window's _WINDOW.json (src/io/views/views.ts): what SpeedViewFiles publishes is read back
// as written; a window without one says nothing; a damaged one (cut, a digit flipped, a link, too big, a field missing
// or wrong, bounds other than its folder's name) is one E_STATE naming the file.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LambdaflowError } from '../../../src/core/errors.js';
import { dataLayout } from '../../../src/io/files/layout.js';
import { silentLogger } from '../../../src/io/runtime/logger.js';
import { WINDOW_FILE, type WindowInfo, listSpeedViews, readWindowInfo } from '../../../src/io/views/views.js';
import { SpeedViewFiles } from '../../../src/speed/publish.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const tempRoot = tempRoots();

const EVENT: WindowInfo = { time: 'event', start: 1_699_999_990, end: 1_700_000_050, watermark: 1_700_000_055, lateRows: 1 };
const PROCESSING: WindowInfo = { time: 'processing', startMs: 1_796_627_180_000, endMs: 1_796_627_240_000 };
const endMsOf = (info: WindowInfo): number => (info.time === 'event' ? info.end * 1000 : info.endMs);

/** A window published as the speed layer publishes it, with `info`: its folder. */
async function publishedWindow(info: WindowInfo): Promise<string> {
  const layout = dataLayout(tempRoot('window-').data);
  await new SpeedViewFiles(layout, silentLogger, 5).publishWindow(endMsOf(info), [Buffer.from('u1,1,1.00\n')], info);
  return listSpeedViews(layout.servingSpeed).at(-1)!.dir;
}

function refusal(read: () => unknown): LambdaflowError {
  try {
    read();
  } catch (error) {
    if (error instanceof LambdaflowError) return error;
    throw error;
  }
  throw new Error('expected an E_STATE refusal');
}

describe('readWindowInfo', () => {
  it.each([EVENT, PROCESSING])('reads back what SpeedViewFiles publishes ($time time)', async (info) => {
    const dir = await publishedWindow(info);
    expect(readWindowInfo(dir, endMsOf(info))).toEqual(info);
  });

  it('says nothing of a window without one (published before it had one)', async () => {
    const dir = await publishedWindow(EVENT);
    fs.rmSync(path.join(dir, WINDOW_FILE));
    expect(readWindowInfo(dir, endMsOf(EVENT))).toBeUndefined();
  });

  it('reads one without its crc32 (written before checks) as plain JSON, every field still checked', async () => {
    const dir = await publishedWindow(EVENT);
    fs.writeFileSync(path.join(dir, WINDOW_FILE), `${JSON.stringify(EVENT)}\n`);
    expect(readWindowInfo(dir, endMsOf(EVENT))).toEqual(EVENT);
    fs.writeFileSync(path.join(dir, WINDOW_FILE), `${JSON.stringify({ ...EVENT, lateRows: -1 })}\n`);
    expect(refusal(() => readWindowInfo(dir, endMsOf(EVENT))).message).toMatch(/lateRows/);
  });

  const text = (info: object): string => JSON.stringify(info);
  it.each<[string, (written: string, file: string) => void, RegExp]>([
    ['cut', (written, file) => fs.writeFileSync(file, written.slice(0, 20)), /not JSON/],
    ['a digit flipped', (written, file) => fs.writeFileSync(file, written.replace('1699999990', '1699999991')), /CRC-32/],
    ['emptied', (_written, file) => fs.writeFileSync(file, ''), /not JSON/],
    ['past 4096 bytes', (written, file) => fs.writeFileSync(file, written + ' '.repeat(4097)), /more than the 4096 bytes/],
    ['a link', (_written, file) => (fs.renameSync(file, `${file}.moved`), fs.symlinkSync(`${file}.moved`, file)), /symbolic link/],
    ['another time kind', (_written, file) => fs.writeFileSync(file, text({ ...EVENT, time: 'wall' })), /time "processing" or "event"/],
    ['a bound missing', (_written, file) => fs.writeFileSync(file, text({ ...EVENT, start: undefined })), /start < end/],
    ['start after end', (_written, file) => fs.writeFileSync(file, text({ ...EVENT, start: EVENT.end + 1 })), /start < end/],
    ['an end other than its folder says', (_written, file) => fs.writeFileSync(file, text({ ...EVENT, start: 1, end: 2 })), /folder's name/],
    ['a watermark short of its end', (_written, file) => fs.writeFileSync(file, text({ ...EVENT, watermark: EVENT.end - 1 })), /watermark of at least/],
    ['a JSON array', (_written, file) => fs.writeFileSync(file, '[1,2]'), /a JSON object/],
  ])('refuses one %s: E_STATE naming it', async (_name, damage, problem) => {
    const dir = await publishedWindow(EVENT);
    const file = path.join(dir, WINDOW_FILE);
    damage(fs.readFileSync(file, 'utf8'), file);
    const error = refusal(() => readWindowInfo(dir, endMsOf(EVENT)));
    expect(error.code).toBe('E_STATE');
    expect(error.context.file).toBe(file);
    expect(error.message).toMatch(problem);
  });
});
