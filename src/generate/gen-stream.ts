// gen-stream: writes a CSV chunk into stream_input/ every interval, each atomically (hidden temp name, then rename).

import fs from 'node:fs';
import path from 'node:path';
import { type Clock } from '../core/clock.js';
import { EventGenerator, type GeneratedCounts } from '../core/event-generator.js';
import { sleep } from '../io/sleep.js';

export interface GenStreamConfig {
  readonly intervalMs: number;
  readonly rowsPerChunk: number;
  /** Undefined: forever. */
  readonly chunks: number | undefined;
  readonly users: number;
  readonly seed: number;
}

export interface StreamChunk {
  readonly name: string;
  readonly rows: number;
  readonly purchases: number;
  /** When the chunk became visible (renamed into place). */
  readonly renamedAtMs: number;
}

/** Chunk names sort in creation order: zero-padded time, then a counter for chunks within one millisecond. */
export function chunkName(timeMs: number, counter: number): string {
  return `chunk-${String(timeMs).padStart(15, '0')}-${String(counter).padStart(6, '0')}.csv`;
}

export class StreamWriter {
  private readonly generator: EventGenerator;
  private counter = 0;
  readonly totals: GeneratedCounts = { rows: 0, purchases: 0 };

  constructor(
    private readonly dir: string,
    private readonly config: GenStreamConfig,
    private readonly clock: Clock,
  ) {
    this.generator = new EventGenerator(config.seed, config.users);
    fs.mkdirSync(dir, { recursive: true });
  }

  /**
   * Writes one chunk of `rows` rows stamped with the current time. `appendedLines` (whole lines, e.g. a benchmark's
   * marker row) follow the generated rows in the same file and are not counted in the totals.
   */
  writeChunk(rows = this.config.rowsPerChunk, appendedLines = ''): StreamChunk {
    const now = this.clock.now();
    const counts: GeneratedCounts = { rows: 0, purchases: 0 };
    const text = this.generator.lines(rows, Math.floor(now / 1000), Number.MAX_SAFE_INTEGER, 0, counts) + appendedLines;
    const name = chunkName(now, this.counter++);
    const temp = path.join(this.dir, `.${name}.tmp`);
    fs.writeFileSync(temp, text);
    fs.renameSync(temp, path.join(this.dir, name));
    this.totals.rows += counts.rows;
    this.totals.purchases += counts.purchases;
    return { name, ...counts, renamedAtMs: this.clock.now() };
  }
}

/** Writes chunks every interval until `chunks` are written or the signal aborts. */
export async function runStreamGenerator(
  dir: string,
  config: GenStreamConfig,
  clock: Clock,
  signal: AbortSignal,
  onChunk?: (chunk: StreamChunk) => void,
): Promise<GeneratedCounts> {
  const writer = new StreamWriter(dir, config, clock);
  for (let i = 0; config.chunks === undefined || i < config.chunks; i++) {
    if (signal.aborted) break;
    const started = clock.now();
    const chunk = writer.writeChunk();
    onChunk?.(chunk);
    if (config.chunks !== undefined && i + 1 === config.chunks) break;
    await sleep(Math.max(0, config.intervalMs - (clock.now() - started)), signal);
  }
  return writer.totals;
}
