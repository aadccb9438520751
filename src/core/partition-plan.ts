// Splitting input files into line-aligned byte ranges and grouping them into map tasks.

export interface PlannedFile {
  readonly size: number;
}

export interface ByteRange {
  readonly fileIndex: number;
  readonly start: number;
  readonly end: number;
}

/** Smallest range worth a task of its own: below this, per-task overhead dominates. */
export const MIN_RANGE_BYTES = 1 << 20;

/**
 * Plans map tasks of about total/targetTasks bytes each: one big file is cut into several ranges (so it uses every
 * thread) and small files are grouped (so each task is worth sending). Cuts are moved forward to line starts by
 * `lineStartAtOrAfter(fileIndex, offset)`, which returns the file size when no line starts there.
 */
export function planTasks(
  files: readonly PlannedFile[],
  targetTasks: number,
  lineStartAtOrAfter: (fileIndex: number, offset: number) => number,
): ByteRange[][] {
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const targetBytes = Math.max(MIN_RANGE_BYTES, Math.ceil(totalBytes / Math.max(1, targetTasks)));
  const tasks: ByteRange[][] = [];
  let current: ByteRange[] = [];
  let currentBytes = 0;
  const close = (): void => {
    if (current.length > 0) tasks.push(current);
    current = [];
    currentBytes = 0;
  };
  files.forEach((file, fileIndex) => {
    let start = 0;
    while (start < file.size) {
      const room = targetBytes - currentBytes;
      const end = start + room >= file.size ? file.size : lineStartAtOrAfter(fileIndex, start + room);
      current.push({ fileIndex, start, end });
      currentBytes += end - start;
      start = end;
      if (currentBytes >= targetBytes) close();
    }
  });
  close();
  return tasks;
}

/**
 * Line-start rule shared by the planner and the parser: position q starts a line when the byte before it is LF, or a
 * CR not followed by LF. Returns the first such q in [from, bytes.length) relative to `bytes` (whose index 0 is the
 * byte before `from`), or -1 when there is none yet.
 */
export function findLineStart(bytes: Uint8Array, from: number, atEndOfFile: boolean): number {
  for (let q = from; q <= bytes.length; q++) {
    const before = bytes[q - 1];
    if (before === 0x0a) return q;
    if (before === 0x0d) {
      if (q < bytes.length) {
        if (bytes[q] !== 0x0a) return q;
      } else if (atEndOfFile) return q;
      else return -1; // need the next byte to decide
    }
  }
  return -1;
}
