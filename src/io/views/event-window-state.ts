// The event-time windows' state on disk (`ingest/event-windows.state`): the units counted, the clock after them, the
// last window due and the slots kept, so a restart goes on from it and reads only the logged files after it.
//
// Format: one JSON line (what it holds, the spec it was built with, and the content check of what follows, so a cut
// or corrupted file is told from a whole one), then the slots as bucketed view lines with the slot start as bucket start.

import { UserAggTable } from '../../core/agg-table.js';
import { type EventWindowSpec, type EventWindowState } from '../../core/event-window.js';
import { maxEventSecondFromJson, watermarkJson } from '../../core/event-time.js';
import { BUCKETS_HEADER, bucketField, forEachViewLine, formatBlock } from '../../core/view-format.js';
import { writeFileAtomically } from '../files/atomic.js';
import { type ContentCheck, contentCheckFrom, contentCheckOf, contentMismatch } from '../files/content-check.js';
import { readRegularFile } from '../files/read-range.js';
import { LambdaflowError } from '../../core/errors.js';

interface StateHeader extends EventWindowSpec {
  readonly throughSeq: number;
  readonly maxEventSecond: number | null;
  readonly lateRows: number;
  readonly dueThroughSecond: number | null;
  readonly slots: ContentCheck;
}

/** Its name, beside the stream's speed lock (one per stream). */
export const EVENT_WINDOW_STATE_FILE = 'event-windows.state';

/** The state file of one stream's event-time windows. */
export class EventWindowStateFile {
  constructor(readonly file: string) {}

  write(spec: EventWindowSpec, state: EventWindowState): Promise<void> {
    return writeEventWindowState(this.file, spec, state);
  }

  read(spec: EventWindowSpec): EventWindowState | undefined {
    return readEventWindowState(this.file, spec);
  }
}

async function writeEventWindowState(file: string, spec: EventWindowSpec, state: EventWindowState): Promise<void> {
  const slots = Buffer.concat([Buffer.from(`${BUCKETS_HEADER}\n`), formatBlock(state.slots.toBlock(), '', bucketField(spec.slideSeconds))]);
  const header: StateHeader = {
    ...spec,
    throughSeq: state.throughSeq,
    maxEventSecond: watermarkJson(state.clock.maxEventSecond),
    lateRows: state.clock.lateRows,
    dueThroughSecond: watermarkJson(state.dueThroughSecond),
    slots: contentCheckOf(slots),
  };
  await writeFileAtomically(file, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), slots]));
}

/** A state file's header and slots, checked against the header's content check; undefined when there is none. */
interface CheckedState {
  readonly header: StateHeader;
  readonly maxEventSecond: number;
  readonly slots: Buffer;
}

/**
 * Reads and checks a state file: undefined when there is none, a string saying what is wrong when it is not whole (cut,
 * corrupted, from before checks); a link or a file that is not a regular one is E_STATE.
 */
function readCheckedState(file: string): CheckedState | string | undefined {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, 'E_STATE');
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw error;
  }
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) return 'it has no whole header line';
  let header: StateHeader;
  try {
    header = JSON.parse(bytes.subarray(0, newline).toString('utf8')) as StateHeader;
  } catch {
    return 'its header line does not parse';
  }
  const maxEventSecond = maxEventSecondFromJson(header?.maxEventSecond);
  const check = contentCheckFrom(header?.slots);
  if (maxEventSecond === undefined || !check) return 'its header has no event clock or no check of its slots';
  const slots = bytes.subarray(newline + 1);
  const mismatch = contentMismatch(slots, check);
  if (mismatch !== undefined) return `${mismatch} in its slots`;
  return { header, maxEventSecond, slots };
}

/** The slots of a checked state file, as a table (a line that does not parse is E_STATE naming it). */
function slotsOf(checked: CheckedState, file: string, slideSeconds: number): UserAggTable {
  const slots = new UserAggTable();
  forEachViewLine(checked.slots, file, 0, (_prefix, key, start, end, count, cents, slot) => slots.add(key, start, end, count, cents, undefined, slot), {
    firstLine: 'header-or-data',
    buckets: bucketField(slideSeconds),
  });
  return slots;
}

/**
 * Checks the state file (for `verify`): false when there is none; one that is not whole, or whose slots do not parse,
 * is one E_STATE naming it. The spec it holds is not compared with any: a restart with another spec starts afresh.
 */
export function checkEventWindowState(file: string): boolean {
  const checked = readCheckedState(file);
  if (typeof checked === 'string') throw new LambdaflowError('E_STATE', `damaged event-window state ${file}: ${checked}`, { file });
  if (checked !== undefined) slotsOf(checked, file, checked.header.slideSeconds);
  return checked !== undefined;
}

/**
 * The state written for this spec, or undefined when there is none, it was written for another window, slide or
 * lateness (its windows would not be these), or it is not whole: the caller then starts without it.
 */
function readEventWindowState(file: string, spec: EventWindowSpec): EventWindowState | undefined {
  const checked = readCheckedState(file);
  if (checked === undefined || typeof checked === 'string') return undefined;
  const { header, maxEventSecond } = checked;
  const sameSpec =
    header.windowSeconds === spec.windowSeconds && header.slideSeconds === spec.slideSeconds && header.allowedLatenessSeconds === spec.allowedLatenessSeconds;
  if (!sameSpec) return undefined;
  return {
    throughSeq: header.throughSeq,
    clock: { maxEventSecond, lateRows: header.lateRows },
    dueThroughSecond: header.dueThroughSecond ?? -Infinity,
    slots: slotsOf(checked, file, spec.slideSeconds),
  };
}
