// A benchmark's stream and what it watches: chunks renamed into stream_input/ on a schedule, each with one marker
// purchase, and the moment each chunk became visible in the speed layer's head, serve's /events, /users/:id and
// merged_view.csv.

import fs from 'node:fs';
import type http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { LambdaflowError } from '../core/errors.js';
import { formatCents } from '../core/money.js';
import { type StreamWriter } from '../generate/gen-stream.js';
import { type DataLayout } from '../io/files/layout.js';
import { readRealtimeHead } from '../io/views/views.js';
import { epochMs } from './http-load.js';
import { IngestLogTail } from './ingest-log-tail.js';
import { type StatusBody, type UserBody, getText, userPath } from './serve-api.js';
import { type SseSubscription, subscribe } from './sse-client.js';
import { type Watchdog } from './watchdog.js';

/** Every chunk holds one purchase of this user (it sorts before the generator's `u…` ids, so first in the CSV). */
export const MARKER_USER = 'bench_marker';
const MARKER_CENTS = 100;
/** head.json and merged_view.csv are looked at this often (the API is timed by events, not polled). */
const POLL_MS = 2;

/** Where a chunk's rows became visible: the speed layer's head, serve's event stream, /users/:id, merged_view.csv. */
export const OBSERVERS = ['head', 'events', 'api', 'csv'] as const;
export type Observer = (typeof OBSERVERS)[number];
export const OBSERVER_NAMES: Record<Observer, string> = {
  head: 'speed layer head.json (baseline)',
  events: 'serve /events version',
  api: 'serve /users/:id',
  csv: 'merged_view.csv',
};
export type Session = 'steady' | 'swap';

interface ChunkRecord {
  readonly renamedAtMs: number;
  readonly rows: number;
  readonly purchases: number;
  readonly session: Session;
}

/**
 * The stream's chunks, in ingest order once the speed layer logged them, and for each observer the ingest seq it
 * covers: a chunk's freshness for an observer is the first moment it covered the chunk's seq, minus its rename.
 */
export class ChunkLog {
  readonly chunks = new Map<string, ChunkRecord>();
  readonly covered: Record<Observer, number> = { head: 0, events: 0, api: 0, csv: 0 };
  readonly samples: Record<Session, Record<Observer, number[]>> = {
    steady: { head: [], events: [], api: [], csv: [] },
    swap: { head: [], events: [], api: [], csv: [] },
  };
  private readonly tail: IngestLogTail;

  constructor(layout: DataLayout) {
    this.tail = new IngestLogTail(layout.ingestLog);
  }

  add(name: string, record: ChunkRecord): void {
    this.chunks.set(name, record);
  }

  /** `observer` shows every seq up to `throughSeq` at `atMs`. */
  advance(observer: Observer, throughSeq: number, atMs: number): void {
    for (; this.covered[observer] < throughSeq; this.covered[observer]++) {
      const name = this.tail.nameOf(this.covered[observer] + 1);
      const chunk = this.chunks.get(name);
      if (!chunk) throw new LambdaflowError('E_STATE', `ingest seq ${this.covered[observer] + 1} is ${name}, not a chunk of this benchmark`);
      this.samples[chunk.session][observer].push(atMs - chunk.renamedAtMs);
    }
  }

  /** Totals of the chunks with seq ≤ `throughSeq` (all when undefined), marker rows included. */
  totals(throughSeq?: number): { rows: number; purchases: number } {
    let rows = 0;
    let purchases = 0;
    for (let seq = 1; seq <= (throughSeq ?? this.chunks.size); seq++) {
      const chunk = this.chunks.get(this.tail.nameOf(seq))!;
      rows += chunk.rows + 1;
      purchases += chunk.purchases + 1;
    }
    return { rows, purchases };
  }

  allCovered(): boolean {
    return OBSERVERS.every((observer) => this.covered[observer] === this.chunks.size);
  }
}

/** Writes a chunk (`rowsPerChunk` generated rows plus the marker purchase) into stream_input/ every `intervalMs`. */
export class ChunkStream {
  private stopping = false;
  private running: Promise<void> | undefined;
  /** How late the latest renames came against their schedule (the producer's own lag), the worst one. */
  maxLateMs = 0;

  constructor(
    private readonly writer: StreamWriter,
    private readonly rowsPerChunk: number,
    private readonly intervalMs: number,
    private readonly log: ChunkLog,
  ) {}

  start(session: Session, watchdog: Watchdog): void {
    this.stopping = false;
    this.running = (async () => {
      const startMs = epochMs();
      for (let i = 0; !this.stopping; i++) {
        const dueMs = startMs + i * this.intervalMs;
        await watchdog.sleep(dueMs - epochMs());
        if (this.stopping) break;
        const marker = `${MARKER_USER},purchase,${formatCents(MARKER_CENTS)},${Math.floor(Date.now() / 1000)}\n`;
        const chunk = this.writer.writeChunk(this.rowsPerChunk, marker);
        const renamedAtMs = epochMs();
        this.maxLateMs = Math.max(this.maxLateMs, renamedAtMs - dueMs);
        this.log.add(chunk.name, { renamedAtMs, rows: chunk.rows, purchases: chunk.purchases, session });
      }
    })();
    this.running.catch(() => {}); // awaited by stop; a failure meanwhile is the watchdog's
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }
}

/**
 * Follows what each observer shows: head.json and merged_view.csv by polling (the CSV's first row is the marker
 * user, whose purchase count is the number of chunks in it), serve's /events, and /users/<marker> asked after each
 * event. Records every batch swap event and each version's seq, to check /users/:id against it.
 */
export class Observation {
  readonly throughSeqOf = new Map<number, number>();
  readonly markerAnswers: { version: number; count: number }[] = [];
  readonly batchSwaps: { view: string; receivedAtMs: number }[] = [];
  private probing = false;
  private probeAgain = false;
  private readonly timer: NodeJS.Timeout;
  private readonly seen = { head: '', csv: '' };

  private constructor(
    private readonly layout: DataLayout,
    private readonly origin: string,
    private readonly log: ChunkLog,
    private readonly watchdog: Watchdog,
    private readonly agent: http.Agent,
    private events: SseSubscription | undefined,
  ) {
    this.timer = setInterval(() => this.catching(() => this.poll()), POLL_MS);
  }

  static async start(layout: DataLayout, origin: string, log: ChunkLog, watchdog: Watchdog, agent: http.Agent): Promise<Observation> {
    const observation = new Observation(layout, origin, log, watchdog, agent, undefined);
    observation.events = await watchdog.guard(
      subscribe(`${origin}/events`, (message) => observation.catching(() => observation.onEvent(JSON.parse(message.data) as StatusBody, message.receivedAtMs))),
    );
    // The stream ends when serve dies: let serve's exit, the clearer error, be reported first.
    watchdog.watch(
      observation.events.failed.catch((error: unknown) =>
        delay(500).then(() => {
          throw error;
        }),
      ),
    );
    return observation;
  }

  private catching(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.watchdog.fail(error);
    }
  }

  private onEvent(status: StatusBody, receivedAtMs: number): void {
    this.throughSeqOf.set(status.version, status.through_seq);
    if (status.change === 'batch' && status.batch_view !== null) this.batchSwaps.push({ view: status.batch_view, receivedAtMs });
    this.log.advance('events', status.through_seq, receivedAtMs);
    this.probe();
  }

  /** GET /users/<marker>: its purchase count is how many chunks (seqs) that version holds. One at a time. */
  private probe(): void {
    if (this.probing) {
      this.probeAgain = true;
      return;
    }
    this.probing = true;
    getText(this.origin + userPath(MARKER_USER), this.agent)
      .then((answer) => {
        if (answer.status === 404) return; // no chunk ingested yet
        if (answer.status !== 200) throw new LambdaflowError('E_STATE', `GET ${userPath(MARKER_USER)}: status ${answer.status}: ${answer.body}`);
        const body = JSON.parse(answer.body) as UserBody;
        if (body.purchase_amount_total !== formatCents(body.purchase_count_total * MARKER_CENTS)) {
          throw new LambdaflowError('E_STATE', `${MARKER_USER} has ${body.purchase_count_total} purchases but ${body.purchase_amount_total}`);
        }
        this.markerAnswers.push({ version: body.version, count: body.purchase_count_total });
        this.log.advance('api', body.purchase_count_total, answer.receivedAtMs);
      })
      .catch((error: unknown) => this.watchdog.fail(error))
      .finally(() => {
        this.probing = false;
        if (this.probeAgain) {
          this.probeAgain = false;
          this.probe();
        }
      });
  }

  private changed(file: string, which: 'head' | 'csv'): boolean {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      return false;
    }
    const identity = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    if (identity === this.seen[which]) return false;
    this.seen[which] = identity;
    return true;
  }

  private poll(): void {
    const now = epochMs();
    if (this.changed(this.layout.realtimeHead, 'head')) {
      const head = readRealtimeHead(this.layout.realtimeHead);
      if (head) this.log.advance('head', head.throughSeq, now);
    }
    if (this.changed(this.layout.mergedView, 'csv')) {
      const firstRow = readStart(this.layout.mergedView).split('\n')[1] ?? '';
      const [user, purchases] = firstRow.split(',');
      this.log.advance('csv', user === MARKER_USER ? Number(purchases) : 0, now);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.events?.close();
  }
}

/** The first 4 KiB of a file ('' when it is gone: replaced between the stat and the open). */
function readStart(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(4096);
      return buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}
