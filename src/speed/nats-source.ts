// The speed layer's StreamSource for a NATS JetStream subject: fetched messages become immutable master files
// (`master/nats/[p<i>/]msgs-<firstSeq>-<lastSeq>.csv`, the payloads concatenated) that the speed layer logs like
// stream files; a message is acked only after the log that names its file is fsynced.
//
// Order of effects per micro-batch, which is what makes every message count once across kill -9:
//   1. messages past the last logged stream seq are written as one file (temp name, fsync, rename, folder fsync);
//   2. the speed layer appends the file to the ingest log (fsync): from here on its messages are in the master dataset;
//   3. `logged` acks them.
// A crash before 2 leaves an unlogged file: removed at the next start, its messages read again. A crash between 2
// and 3 leaves logged messages unacked: the next start reads from the message after the newest logged file's last
// seq (recreating the consumer there), and a redelivery at or below it is acked and skipped, never counted twice.

import fs from 'node:fs';
import path from 'node:path';
import { type JsMsg } from '@nats-io/jetstream';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { publishNewFile, removeStaleTemps } from '../io/files/atomic.js';
import { type IngestEntry } from '../io/logs/ingest-log.js';
import { type DataLayout } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';
import { type NatsLink, NatsPullReader } from '../io/nats/nats.js';
import { type NewFile, type StreamSource } from './ports.js';

export interface NatsSourceConfig {
  /** The stream's layout: its NATS files go to layout.natsMaster. */
  readonly layout: DataLayout;
  readonly link: NatsLink;
  /** The JetStream stream, created over `streamSubject` if missing (with `replicas`, or checked to have them). */
  readonly stream: string;
  readonly streamSubject: string;
  readonly replicas: number | undefined;
  /** The durable consumer and the subject it reads. */
  readonly consumer: string;
  readonly filterSubject: string;
  readonly logger: Logger;
  /** Times the wait for a backlog (the final micro-batch's catch-up) and the reader's retries. */
  readonly clock: Clock;
}

/** A file holds at most this many messages (or about this many bytes); a micro-batch may write several. */
const FILE_MAX_MESSAGES = 10_000;
const FILE_MAX_BYTES = 32 << 20;
/**
 * Messages taken but not yet logged stay in memory (to be acked): taking more waits while they hold this many bytes
 * (the log or the disk failing), and a final micro-batch catching up on a backlog stops there (the next start reads on).
 */
const PENDING_MAX_BYTES = 256 << 20;
/** A final micro-batch (`--once`, a graceful stop) waits this long without any message arriving before it gives up catching up. */
const CATCH_UP_IDLE_MS = 5_000;
const NATS_FILE = /^msgs-(\d+)-(\d+)\.csv$/;
const pad = (seq: number): string => String(seq).padStart(12, '0');
const NEWLINE = 0x0a;

/** Messages taken from the queue, as one file to be: written, then logged, then acked. */
interface Batch {
  readonly first: number;
  readonly last: number;
  readonly messages: readonly JsMsg[];
  /** Its name relative to the data folder, as logged. */
  readonly name: string;
  readonly publishedAtMs: number;
  /** Payload bytes. */
  readonly bytes: number;
  file: NewFile | undefined;
}

/** The stream seqs a NATS file holds, from its name (undefined: not a NATS file name). */
export function natsFileRange(name: string): { first: number; last: number } | undefined {
  const match = NATS_FILE.exec(path.basename(name));
  return match ? { first: Number(match[1]), last: Number(match[2]) } : undefined;
}

/** How this stream's NATS files are named in the ingest log: relative to the data folder (`master/nats/`, `master/nats/p0/`). */
function loggedPrefix(layout: DataLayout): string {
  return path.relative(layout.root, layout.natsMaster).split(path.sep).join('/') + '/';
}

/** The payloads, one after another, each ending with a newline (added when a payload lacks one). */
function concatenatePayloads(messages: readonly JsMsg[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const message of messages) {
    const data = message.data;
    if (data.length === 0) continue;
    parts.push(data);
    if (data[data.length - 1] !== NEWLINE) parts.push(Buffer.of(NEWLINE));
  }
  return Buffer.concat(parts);
}

export class NatsSource implements StreamSource {
  /** Stream seqs up to this are logged (every message of the subject up to it is in a logged file). */
  private loggedThrough: number;
  /** Stream seqs up to this are taken into batches (logged, or waiting for the log). */
  private takenThrough: number;
  private pending: Batch[] = [];
  private pendingBytes = 0;
  /** The last write of a batch failed: no more is taken until it is written (memory stays bounded by the queue). */
  private writeFailing = false;
  private readonly prefix: string;
  private readonly reader: NatsPullReader;

  private constructor(
    private readonly config: NatsSourceConfig,
    loggedThrough: number,
  ) {
    this.loggedThrough = loggedThrough;
    this.takenThrough = loggedThrough;
    this.prefix = loggedPrefix(config.layout);
    this.reader = new NatsPullReader(
      config.link,
      { stream: config.stream, consumer: config.consumer, filterSubject: config.filterSubject, logger: config.logger, who: 'speed', clock: config.clock },
      () => this.takenThrough,
    );
  }

  /**
   * Ensures the stream, finds where the log says the subject was read up to (the newest logged NATS file of this
   * stream), removes files written but never logged, and starts reading from the message after it.
   */
  static async open(config: NatsSourceConfig, logged: readonly IngestEntry[]): Promise<NatsSource> {
    const prefix = loggedPrefix(config.layout);
    let loggedThrough = 0;
    for (const entry of logged) {
      const range = entry.name.startsWith(prefix) && !entry.name.slice(prefix.length).includes('/') ? natsFileRange(entry.name) : undefined;
      if (range) loggedThrough = Math.max(loggedThrough, range.last);
    }
    await fs.promises.mkdir(config.layout.natsMaster, { recursive: true });
    await removeStaleTemps(config.layout.natsMaster);
    for (const name of await fs.promises.readdir(config.layout.natsMaster)) {
      const range = natsFileRange(name);
      if (range && range.first > loggedThrough) await fs.promises.rm(path.join(config.layout.natsMaster, name), { force: true });
    }
    await config.link.ensureStream(config.stream, config.streamSubject, config.replicas);
    const source = new NatsSource(config, loggedThrough);
    await source.reader.start();
    config.logger.info(
      `speed: reading ${config.filterSubject} of NATS stream ${config.stream} (consumer ${config.consumer}) after stream seq ${loggedThrough}, from ${config.link.server}`,
    );
    return source;
  }

  /** Takes what is queued into batches (at most FILE_MAX_MESSAGES each), unless earlier batches are stuck. */
  private takeQueued(): void {
    while (this.pendingBytes < PENDING_MAX_BYTES && !this.writeFailing) {
      const { fresh, stale } = this.reader.take(this.takenThrough, FILE_MAX_MESSAGES, FILE_MAX_BYTES);
      // A redelivery of a logged message: acked (its first ack may have been lost); one of a batch waiting for the
      // log is acked with its batch.
      for (const message of stale) if (message.seq <= this.loggedThrough) message.ack();
      if (fresh.length === 0) return;
      const first = fresh[0]!.seq;
      const last = fresh.at(-1)!.seq;
      const publishedAtMs = fresh.reduce((ms, m) => Math.min(ms, m.info.timestampNanos / 1e6), Infinity);
      const bytes = fresh.reduce((n, m) => n + m.data.length, 0);
      this.pending.push({ first, last, messages: fresh, bytes, name: `${this.prefix}msgs-${pad(first)}-${pad(last)}.csv`, publishedAtMs, file: undefined });
      this.pendingBytes += bytes;
      this.takenThrough = last;
    }
  }

  /** Writes the batches not written yet, in order; stops at the first that cannot be written (retried next time). */
  private async writePending(): Promise<NewFile[]> {
    const files: NewFile[] = [];
    for (const batch of this.pending) {
      if (!batch.file) {
        const bytes = concatenatePayloads(batch.messages);
        try {
          await publishNewFile(this.config.layout.natsMaster, path.basename(batch.name), bytes);
        } catch (error) {
          if (!(error instanceof LambdaflowError) || error.code !== 'E_WRITE') throw error;
          this.config.logger.error(`speed: writing NATS messages ${batch.first}..${batch.last} failed, will retry: ${error.message}`);
          this.writeFailing = true;
          return files;
        }
        batch.file = { name: batch.name, size: bytes.length, mtimeMs: batch.publishedAtMs };
      }
      files.push(batch.file);
    }
    this.writeFailing = false;
    return files;
  }

  /**
   * Waits until every message the subject held when called is taken, unless nothing arrives for a while or the
   * backlog passes PENDING_MAX_BYTES. Takes as it goes only what fills files, so a backlog arriving in pieces still
   * makes few files.
   */
  private async catchUp(): Promise<void> {
    const target = await this.reader.streamLastSeq();
    if (target === undefined) return;
    let received = this.reader.received;
    let progressAtMs = this.config.clock.now();
    for (;;) {
      const queued = this.reader.queued;
      if (queued.messages >= FILE_MAX_MESSAGES || queued.bytes >= FILE_MAX_BYTES) this.takeQueued();
      if (this.pendingBytes >= PENDING_MAX_BYTES) {
        this.config.logger.info(`speed: read NATS messages up to stream seq ${this.takenThrough} of ${target} in this micro-batch; the rest follows`);
        return;
      }
      if (this.takenThrough >= target || (await this.reader.deliveredThrough(target))) {
        this.takeQueued();
        return;
      }
      if (this.reader.received !== received) {
        received = this.reader.received;
        progressAtMs = this.config.clock.now();
      }
      if (this.config.clock.now() - progressAtMs > CATCH_UP_IDLE_MS || !this.config.link.connected) {
        this.takeQueued();
        this.config.logger.warn(`speed: stopped waiting for NATS messages up to stream seq ${target}; the next start reads them`);
        return;
      }
      await this.reader.arrival(50);
    }
  }

  /** Every message queued now (all of the subject's messages when `final`), as files written and ready to log. */
  async newFiles(_nowMs: number, final: boolean): Promise<NewFile[]> {
    if (final) await this.catchUp();
    else this.takeQueued();
    return this.writePending();
  }

  /** The log now names these files: their messages are acked, and nothing at or below their last seq is read again. */
  logged(names: readonly string[]): void {
    const done = new Set(names);
    while (this.pending.length > 0 && done.has(this.pending[0]!.name)) {
      const batch = this.pending.shift()!;
      this.pendingBytes -= batch.bytes;
      this.loggedThrough = batch.last;
      for (const message of batch.messages) message.ack();
    }
  }

  forget(): void {}

  unreadableSinceMs(): number | null {
    return this.reader.unreadableSinceMs ?? null;
  }

  async close(): Promise<void> {
    await this.reader.close();
  }
}
