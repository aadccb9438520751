// NATS JetStream for the pipeline: one connection to a server or a cluster that says when its server goes away and
// when it is back (or another member took over), the stream ensured with its replicas, a publisher with message ids
// (JetStream drops a retried publish within its duplicate window), and a durable pull consumer read ahead into a
// bounded queue that never hands out a message past one it lost, and that says since when it cannot read.
//
// Why a cluster fails over by itself: the client connects to any server it is given and adds every member the
// cluster gossips (`connect_urls`, not ignored), so losing its server it reconnects to another; a stream of R
// replicas keeps its messages while a majority of them is up. What takes time is JetStream: until the survivors
// elect a new metadata leader (seconds), consumer requests go unanswered. At start they are retried for a while; once
// running, the reader retries until they answer, and its caller reports the time it has not read.
//
// Why a lost delivery cannot be skipped: the speed layer treats "every message at or below the last logged stream
// seq is counted" as the truth, so a message must never be logged after a later one. Deliveries of a consumer carry
// consecutive delivery seqs (redeliveries too); a delivery seq that does not follow the previous one, or any outage of
// the connection (a delivery may have been lost in flight), makes the reader drop what it queued and recreate the
// consumer at the message after the last one handed out, so nothing is ever read past a hole.

import {
  type Consumer,
  type ConsumerInfo,
  type ConsumerMessages,
  type JsMsg,
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  StorageType,
  type StreamInfo,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, connect, nanos } from '@nats-io/transport-node';
import { type Clock } from '../../core/clock.js';
import { LambdaflowError } from '../../core/errors.js';
import { type NatsAddress, formatNatsAddress, formatNatsAddresses, natsHostPort } from '../../core/nats-names.js';
import { type Logger } from '../runtime/logger.js';

/** A connection attempt gives up after this long (a refused connection fails at once). */
const CONNECT_TIMEOUT_MS = 3_000;
const RECONNECT_WAIT_MS = 250;
/**
 * JetStream API requests (stream and consumer management, publish acks) time out after this long: a request sent as
 * a restarted server comes back may go unanswered, and is retried sooner rather than waited for.
 */
const API_TIMEOUT_MS = 2_000;
/**
 * Stream and consumer management requests wait longer: a cluster answers a consumer's creation or deletion only once
 * the consumer's replicas have elected a leader (seconds, longer under load), and a request retried sooner would
 * delete a consumer that was about to answer, again and again.
 */
const MANAGE_TIMEOUT_MS = 10_000;
/**
 * At start, JetStream requests that go unanswered (a cluster electing leaders after losing a server) are retried for
 * this long before the start fails: longer than an election takes, short enough to fail a start that cannot work.
 */
const START_PATIENCE_MS = 30_000;
/** JetStream API errors that mean "not now" in a cluster: temporarily unavailable (10008), no leader to answer (10009). */
const UNAVAILABLE_API_CODES = new Set([10_008, 10_009]);

/** Whether a failed JetStream request may succeed when retried: it went unanswered, or the cluster had no leader for it. */
function unanswered(error: unknown): boolean {
  const cause = error instanceof LambdaflowError ? error.cause : error;
  if (!(cause instanceof Error)) return false;
  return cause.name === 'TimeoutError' || (cause.name === 'JetStreamApiError' && UNAVAILABLE_API_CODES.has((cause as Error & { code?: number }).code ?? 0));
}

/**
 * Runs a JetStream request of a start again while it goes unanswered, for up to START_PATIENCE_MS: a cluster that just
 * lost a server answers once it has elected new leaders. `warn` gets one line, at the first retry.
 */
async function retryUnanswered<T>(connection: NatsConnection, clock: Clock, warn: (problem: string) => void, request: () => Promise<T>): Promise<T> {
  const deadline = clock.now() + START_PATIENCE_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (!unanswered(error) || clock.now() >= deadline || connection.isClosed()) throw error;
      if (attempt === 0) warn(`JetStream did not answer (${describe(error)}); retrying for up to ${START_PATIENCE_MS / 1000} s`);
      await clock.sleep(Math.min(2_000, RECONNECT_WAIT_MS * 2 ** Math.min(attempt, 3)));
    }
  }
}

/** A connection to a NATS server (or any server of a cluster) with JetStream; reconnects forever, logging one line per outage. */
export class NatsLink {
  private outageSinceMs: number | undefined;
  /** The server an outage lost: the next connection is to it again ("back") or to another member (a failover). */
  private lostServer: string | undefined;
  private readonly listeners = new Set<(event: 'down' | 'up') => void>();

  private constructor(
    /** The servers given; the client also fails over to the members a cluster tells it of. */
    readonly servers: readonly NatsAddress[],
    readonly connection: NatsConnection,
    readonly manager: JetStreamManager,
    readonly client: JetStreamClient,
    private readonly logger: Logger,
    private readonly who: string,
    /** Times outages and paces publish retries. */
    private readonly clock: Clock,
  ) {
    void this.watchStatus();
  }

  /**
   * Connects to one of `servers` (each tried once, in random order: clients spread over a cluster), or fails within a
   * few seconds with one E_NETWORK error (none reachable, or no JetStream).
   */
  static async open(servers: readonly NatsAddress[], logger: Logger, who: string, clock: Clock): Promise<NatsLink> {
    const url = servers.length === 1 ? `the NATS server at ${formatNatsAddress(servers[0]!)}` : `any of the NATS servers ${formatNatsAddresses(servers)}`;
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers: servers.map(natsHostPort),
        timeout: CONNECT_TIMEOUT_MS,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: RECONNECT_WAIT_MS,
        name: `lambdaflow ${who}`,
      });
    } catch (error) {
      throw new LambdaflowError('E_NETWORK', `cannot reach ${url}: ${describe(error)}`, {}, { cause: error });
    }
    try {
      // Its first request (the account's info) goes unanswered while a cluster elects leaders.
      const manager = await retryUnanswered(
        connection,
        clock,
        (problem) => logger.warn(`${who}: connecting to ${serverUrl(connection)}: ${problem}`),
        () => jetstreamManager(connection, { timeout: MANAGE_TIMEOUT_MS }),
      );
      logger.debug(`${who}: connected to the NATS server at ${serverUrl(connection)}`);
      return new NatsLink(servers, connection, manager, jetstream(connection, { timeout: API_TIMEOUT_MS }), logger, who, clock);
    } catch (error) {
      await connection.close().catch(() => undefined);
      const problem = (error as Error).name === 'JetStreamNotEnabled' ? 'JetStream is not enabled there (start nats-server with -js)' : describe(error);
      throw new LambdaflowError('E_NETWORK', `cannot use JetStream on the NATS server at ${serverUrl(connection)}: ${problem}`, {}, { cause: error });
    }
  }

  /** The server connected to now (or last), as `nats://host:port`. */
  get server(): string {
    return serverUrl(this.connection);
  }

  /** Calls `listener` when the server goes away and when it is back; returns the unsubscribe function. */
  onOutage(listener: (event: 'down' | 'up') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get connected(): boolean {
    return this.outageSinceMs === undefined && !this.connection.isClosed();
  }

  /** Resolves once the connection is up (at once when it is), or when `cancelled` is called. */
  whenConnected(): { promise: Promise<void>; cancel: () => void } {
    let cancel = (): void => {};
    const promise = this.connected
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const off = this.onOutage((event) => {
            if (event !== 'up') return;
            off();
            resolve();
          });
          cancel = () => {
            off();
            resolve();
          };
        });
    return { promise, cancel };
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === 'disconnect' && this.outageSinceMs === undefined) {
        this.outageSinceMs = this.clock.now();
        this.lostServer = natsUrl(status.server);
        this.logger.error(`${this.who}: lost the NATS server at ${this.lostServer}; reconnecting (nothing is lost: unread messages stay in the stream)`);
        for (const listener of this.listeners) listener('down');
      } else if (status.type === 'reconnect' && this.outageSinceMs !== undefined) {
        const after = `after ${((this.clock.now() - this.outageSinceMs) / 1000).toFixed(1)} s`;
        const now = natsUrl(status.server);
        this.logger.warn(
          now === this.lostServer ? `${this.who}: NATS server at ${now} is back ${after}` : `${this.who}: failed over to the NATS server at ${now} ${after}`,
        );
        this.outageSinceMs = undefined;
        for (const listener of this.listeners) listener('up');
      }
    }
  }

  /** A JetStream request of a start (the stream, the consumer), retried while it goes unanswered (see retryUnanswered). */
  whenAnswered<T>(what: string, request: () => Promise<T>): Promise<T> {
    return retryUnanswered(this.connection, this.clock, (problem) => this.logger.warn(`${this.who}: ${what}: ${problem}`), request);
  }

  /**
   * Creates the stream (file storage, `replicas` or one) over `subject` unless a stream of that name exists, which is
   * used as it is, except that it must have `replicas` when they are given: a mismatch is an E_OPTIONS error.
   */
  async ensureStream(stream: string, subject: string, replicas: number | undefined): Promise<void> {
    await this.whenAnswered(`stream ${stream}`, async () => {
      const info = (await this.streamInfo(stream)) ?? (await this.addStream(stream, subject, replicas));
      // A stream's config says 1 for one replica; 0 (unset) means the same.
      const has = info.config.num_replicas || 1;
      if (replicas !== undefined && has !== replicas) {
        throw new LambdaflowError(
          'E_OPTIONS',
          `--nats-replicas ${replicas}: stream ${stream} on the NATS server at ${this.server} has ${has} ${has === 1 ? 'replica' : 'replicas'} (give --nats-replicas ${has}, or edit the stream's replicas)`,
          { flag: 'nats-replicas' },
        );
      }
    });
  }

  /** The stream's info, or undefined when there is no stream of that name. */
  private async streamInfo(stream: string): Promise<StreamInfo | undefined> {
    try {
      return await this.manager.streams.info(stream);
    } catch (error) {
      if ((error as Error).name === 'StreamNotFoundError') return undefined;
      throw this.apiError(`cannot look up stream ${stream}`, error);
    }
  }

  private async addStream(stream: string, subject: string, replicas: number | undefined): Promise<StreamInfo> {
    try {
      return await this.manager.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, num_replicas: replicas ?? 1 });
    } catch (error) {
      // Another process may have created it meanwhile.
      const info = await this.streamInfo(stream).catch(() => undefined);
      if (info) return info;
      throw this.apiError(`cannot create stream ${stream} over ${subject}${replicas === undefined ? '' : ` with ${replicas} replicas`}`, error);
    }
  }

  /** Publishes one message with a message id, retrying through an outage (the id makes a retry land once). */
  async publish(subject: string, data: Uint8Array, messageId: string, signal: AbortSignal): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await this.client.publish(subject, data, { msgID: messageId, timeout: API_TIMEOUT_MS });
        return ack.seq;
      } catch (error) {
        if (signal.aborted || this.connection.isClosed()) throw this.apiError(`cannot publish to ${subject}`, error);
        if (attempt === 0) this.logger.warn(`${this.who}: publishing to ${subject} failed (${describe(error)}); retrying`);
        await this.clock.sleep(Math.min(2_000, RECONNECT_WAIT_MS * 2 ** Math.min(attempt, 3)), signal);
      }
    }
  }

  apiError(what: string, error: unknown): LambdaflowError {
    return new LambdaflowError('E_NETWORK', `${what} on the NATS server at ${this.server}: ${describe(error)}`, {}, { cause: error });
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.connection.close().catch(() => undefined);
  }
}

/** A server as the client names it (`host:port`), as the options do: `nats://host:port`. */
const natsUrl = (hostPort: string): string => (hostPort.startsWith('nats://') ? hostPort : `nats://${hostPort}`);
const serverUrl = (connection: NatsConnection): string => natsUrl(connection.getServer());

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && !error.message.includes(cause) ? `${error.message} (${cause})` : error.message;
}

export interface PullReaderConfig {
  readonly stream: string;
  /** The durable consumer's name. */
  readonly consumer: string;
  readonly filterSubject: string;
  readonly logger: Logger;
  readonly who: string;
  /** Paces pull retries and waits for arrivals. */
  readonly clock: Clock;
}

/** Messages fetched per pull request, and how long a pull request waits for them. */
const FETCH_MESSAGES = 1_000;
const FETCH_EXPIRES_MS = 2_000;
/** The read-ahead queue stops fetching at this many messages or bytes until the speed layer takes some. */
const QUEUE_MAX_MESSAGES = 20_000;
const QUEUE_MAX_BYTES = 64 << 20;
/** Above what can be queued and in a micro-batch, so acks never hold back deliveries. */
const MAX_ACK_PENDING = 100_000;
/** A message not acked in this long is delivered again (it is then skipped as already logged, or read again). */
const ACK_WAIT_MS = 60_000;
/** Failed requests are retried at most this far apart: a cluster that elected its leaders is read again within it. */
const RETRY_MAX_MS = 2_000;

/**
 * A durable pull consumer read ahead into a queue. `take` hands out queued messages past a stream seq, in stream
 * order; the consumer is (re)created from the caller's cursor at start and after any doubt (a gap in delivery
 * seqs, an outage, a failed pull), so its acks and redeliveries never decide what is read: the caller's log does.
 * `unreadableSinceMs` says since when it has not completed a pull: an outage, a cluster without leaders, any failure.
 */
export class NatsPullReader {
  private queue: JsMsg[] = [];
  private queuedBytes = 0;
  private lastDelivery = 0;
  private receivedCount = 0;
  /** Bumped whenever the queue is dropped: a pull started before must not add to the new queue. */
  private generation = 0;
  private reposition = true;
  private fetching: ConsumerMessages | undefined;
  private consumer: Consumer | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  private readonly arrivals = new Set<() => void>();
  private failingSinceMs: number | undefined;
  /** Since when no pull has completed (an outage or a failure began then); undefined while pulls complete. */
  private unreadableSince: number | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly link: NatsLink,
    private readonly config: PullReaderConfig,
    /** The last stream seq the caller has taken: the consumer is recreated to deliver from the one after it. */
    private readonly cursor: () => number,
  ) {
    this.unsubscribe = link.onOutage((event) => {
      if (event === 'down') this.unreadableSince ??= config.clock.now();
      this.doubt();
    });
  }

  /**
   * Positions the consumer (retried while the cluster does not answer yet; other errors are the caller's: E_NETWORK),
   * then reads ahead until closed.
   */
  async start(): Promise<void> {
    await this.link.whenAnswered(`consumer ${this.config.consumer}`, () => this.position());
    this.loop = this.run();
  }

  /** Since when the reader has not been able to read (undefined while it reads, idle or not). */
  get unreadableSinceMs(): number | undefined {
    return this.unreadableSince;
  }

  /** Drops what is queued and recreates the consumer before the next pull. */
  private doubt(): void {
    this.generation++;
    this.queue = [];
    this.queuedBytes = 0;
    this.reposition = true;
    void this.fetching?.close();
    this.wakeLoop?.();
  }

  private async position(): Promise<void> {
    const { stream, consumer, filterSubject } = this.config;
    const from = this.cursor() + 1;
    const generation = this.generation;
    const reused = await this.startsAt(from);
    if (!reused) await this.deleteConsumer();
    try {
      // No num_replicas: a durable consumer takes its stream's replicas (tested), so losing a server loses neither.
      if (!reused)
        await this.link.manager.consumers.add(stream, {
          durable_name: consumer,
          filter_subject: filterSubject,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(ACK_WAIT_MS),
          max_ack_pending: MAX_ACK_PENDING,
          ...(from > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : { deliver_policy: DeliverPolicy.All }),
        });
      this.consumer = await this.link.client.consumers.get(stream, consumer);
    } catch (error) {
      throw this.link.apiError(`cannot create consumer ${consumer} on stream ${stream} (from stream seq ${from})`, error);
    }
    if (generation === this.generation) this.reposition = false;
    this.lastDelivery = 0;
    this.config.logger.debug(`${this.config.who}: consumer ${consumer} reads ${filterSubject} of stream ${stream} from stream seq ${from}`);
  }

  /**
   * Whether the consumer exists, reads from stream seq `from` and has delivered nothing: then it is the one an earlier
   * attempt created before its answer was lost, and is used as it is (deleting it would only start its election again).
   */
  private async startsAt(from: number): Promise<boolean> {
    const { stream, consumer, filterSubject } = this.config;
    let info: ConsumerInfo;
    try {
      info = await this.link.manager.consumers.info(stream, consumer);
    } catch (error) {
      if ((error as Error).name === 'ConsumerNotFoundError') return false;
      throw this.link.apiError(`cannot look up consumer ${consumer} of stream ${stream}`, error);
    }
    const start =
      info.config.deliver_policy === DeliverPolicy.StartSequence ? info.config.opt_start_seq : info.config.deliver_policy === DeliverPolicy.All ? 1 : undefined;
    return start === from && info.config.filter_subject === filterSubject && info.delivered.consumer_seq === 0;
  }

  private async deleteConsumer(): Promise<void> {
    const { stream, consumer } = this.config;
    try {
      await this.link.manager.consumers.delete(stream, consumer);
    } catch (error) {
      if ((error as Error).name !== 'ConsumerNotFoundError') throw this.link.apiError(`cannot reset consumer ${consumer} of stream ${stream}`, error);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.link.connected) {
          // Requests sent while the server is away would only time out: wait for it.
          const up = this.link.whenConnected();
          this.wakeLoop = up.cancel;
          await up.promise;
          continue;
        }
        if (this.reposition) await this.position();
        if (this.queue.length >= QUEUE_MAX_MESSAGES || this.queuedBytes >= QUEUE_MAX_BYTES) {
          await new Promise<void>((resolve) => (this.wakeLoop = resolve));
          continue;
        }
        if (await this.pull()) this.recovered();
      } catch (error) {
        if (this.stopped) break;
        this.failed(error);
        this.doubt();
        const now = this.config.clock.now();
        const woken = new AbortController();
        this.wakeLoop = () => woken.abort();
        await this.config.clock.sleep(Math.min(RETRY_MAX_MS, 250 * 2 ** Math.min(5, Math.floor((now - (this.failingSinceMs ?? now)) / 1000))), woken.signal);
      }
    }
  }

  /** One pull request's messages into the queue; false when a doubt cut it short (the consumer is to be recreated). */
  private async pull(): Promise<boolean> {
    const generation = this.generation;
    const messages = await this.consumer!.fetch({ max_messages: FETCH_MESSAGES, expires: FETCH_EXPIRES_MS });
    this.fetching = messages;
    try {
      for await (const message of messages) {
        if (generation !== this.generation) break;
        if (message.info.deliverySequence !== this.lastDelivery + 1) {
          this.config.logger.warn(
            `${this.config.who}: consumer ${this.config.consumer} delivered seq ${message.info.deliverySequence} after ${this.lastDelivery}; reading again from stream seq ${this.cursor() + 1}`,
          );
          this.doubt();
          break;
        }
        this.lastDelivery = message.info.deliverySequence;
        this.receivedCount++;
        this.queue.push(message);
        this.queuedBytes += message.data.length;
        for (const arrived of this.arrivals) arrived();
      }
    } finally {
      this.fetching = undefined;
    }
    return generation === this.generation;
  }

  private failed(error: unknown): void {
    this.unreadableSince ??= this.config.clock.now();
    if (this.failingSinceMs !== undefined) return;
    this.failingSinceMs = this.config.clock.now();
    // An outage of the connection is logged by the link; a failure with the connection up is logged here, once.
    if (this.link.connected) this.config.logger.error(`${this.config.who}: reading stream ${this.config.stream} failed (${describe(error)}); retrying`);
  }

  private recovered(): void {
    const since = this.unreadableSince;
    this.unreadableSince = undefined;
    if (this.failingSinceMs === undefined) return;
    const after = since === undefined ? '' : ` after ${((this.config.clock.now() - since) / 1000).toFixed(1)} s`;
    if (this.link.connected) this.config.logger.warn(`${this.config.who}: reading stream ${this.config.stream} again${after}`);
    this.failingSinceMs = undefined;
  }

  /**
   * Queued messages, in stream order: `fresh` ones past `afterSeq` (at most maxMessages / about maxBytes), and `stale`
   * ones at or below it (redeliveries), which the caller may ack. A fresh message that does not follow the previous
   * one in stream order is a doubt: nothing past it is handed out.
   */
  take(afterSeq: number, maxMessages: number, maxBytes: number): { fresh: JsMsg[]; stale: JsMsg[] } {
    const fresh: JsMsg[] = [];
    const stale: JsMsg[] = [];
    let last = afterSeq;
    let bytes = 0;
    let staleBytes = 0;
    let i = 0;
    for (; i < this.queue.length; i++) {
      const message = this.queue[i]!;
      if (message.seq <= afterSeq) {
        stale.push(message);
        staleBytes += message.data.length;
        continue;
      }
      if (message.seq <= last) {
        this.doubt();
        return { fresh, stale };
      }
      if (fresh.length >= maxMessages || (fresh.length > 0 && bytes + message.data.length > maxBytes)) break;
      fresh.push(message);
      bytes += message.data.length;
      last = message.seq;
    }
    this.queue = this.queue.slice(i);
    this.queuedBytes -= staleBytes + bytes;
    this.wakeLoop?.();
    return { fresh, stale };
  }

  /** Resolves when a message arrives, or after `ms`. */
  async arrival(ms: number): Promise<void> {
    const arrived = new AbortController();
    const done = (): void => arrived.abort();
    this.arrivals.add(done);
    try {
      await this.config.clock.sleep(ms, arrived.signal);
    } finally {
      this.arrivals.delete(done);
    }
  }

  /** The stream's last seq now (undefined when the server cannot say). */
  async streamLastSeq(): Promise<number | undefined> {
    try {
      return (await this.link.manager.streams.info(this.config.stream)).state.last_seq;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether every message of the consumer's subject up to stream seq `target` is here (queued, or taken): the
   * consumer has nothing pending before it and every delivery it made has arrived.
   */
  async deliveredThrough(target: number): Promise<boolean> {
    if (this.reposition || !this.link.connected) return false;
    try {
      const info = await this.link.manager.consumers.info(this.config.stream, this.config.consumer);
      return info.delivered.consumer_seq <= this.lastDelivery && (info.num_pending === 0 || info.delivered.stream_seq >= target);
    } catch {
      return false;
    }
  }

  /** Messages and bytes queued now, not taken yet. */
  get queued(): { readonly messages: number; readonly bytes: number } {
    return { messages: this.queue.length, bytes: this.queuedBytes };
  }

  /** Messages received so far (progress, for a caller waiting on the stream). */
  get received(): number {
    return this.receivedCount;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    await this.fetching?.close();
    this.wakeLoop?.();
    await this.loop;
  }
}
