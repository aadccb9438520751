// The NATS pull reader reads time only from its injected clock, and positions its consumer in a cluster that answers late.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/io/runtime/logger.js';
import { NatsLink, NatsPullReader } from '../../../src/io/nats/nats.js';
import { ManualClock, settle } from '../../helpers/manual-clock.js';

/** A link that never has an outage: enough for a reader that is never started. */
const quietLink = { onOutage: () => () => {} } as unknown as NatsLink;

describe('NatsPullReader', () => {
  it("waits for arrivals on the injected clock's time, never sleeping on its own", async () => {
    const clock = new ManualClock(1_000);
    const reader = new NatsPullReader(quietLink, { stream: 's', consumer: 'c', filterSubject: 's.>', logger: silentLogger, who: 'test', clock }, () => 0);
    let woke = false;
    const waited = reader.arrival(50).then(() => (woke = true));
    await settle();
    expect(clock.sleepers).toBe(1);
    await clock.advanceTo(1_049);
    expect(woke).toBe(false);
    await clock.advanceTo(1_050);
    await waited;
    expect(woke).toBe(true);
    expect(clock.sleepers).toBe(0);
  });

  it('regression: a consumer whose creation went unanswered is used once it answers, not deleted and created again forever', async () => {
    // Modelled on a JetStream cluster that lost a server: a new consumer answers only once its replicas have elected a
    // leader, which takes as long as two unanswered requests here; deleting it before then resets the election. The
    // reader used to delete and recreate it on every retry, never letting it answer, until its start gave up.
    const clock = new ManualClock(0);
    const calls: string[] = [];
    // The consumer an earlier run read with: it has delivered messages, so it is reset.
    let consumer: { config: Record<string, unknown>; delivered: number; unanswered: number } | undefined = {
      config: { deliver_policy: 'all', filter_subject: 's.>' },
      delivered: 7,
      unanswered: 2,
    };
    const unanswered = (what: string): never => {
      calls.push(`${what}: timeout`);
      throw Object.assign(new Error('timeout'), { name: 'TimeoutError' });
    };
    const leaderless = (): boolean => consumer !== undefined && consumer.unanswered < 2 && ++consumer.unanswered > 0;
    const notFound = (): never => {
      throw Object.assign(new Error('consumer not found'), { name: 'ConsumerNotFoundError' });
    };
    const consumers = {
      info: async () => {
        if (!consumer) return notFound();
        if (leaderless()) return unanswered('info');
        calls.push('info');
        return { config: consumer.config, delivered: { consumer_seq: consumer.delivered, stream_seq: consumer.delivered } };
      },
      delete: async () => {
        if (!consumer) return notFound();
        const had = leaderless();
        consumer = undefined;
        if (had) return unanswered('delete');
        calls.push('delete');
        return true;
      },
      add: async (_stream: string, config: Record<string, unknown>) => {
        consumer = { config, delivered: 0, unanswered: 0 };
        return leaderless() ? unanswered('add') : consumer;
      },
    };
    // A pull that delivers nothing until the reader closes it.
    const fetch = async () => {
      let closed = (): void => {};
      const done = new Promise<void>((resolve) => (closed = resolve));
      return {
        close: async () => closed(),
        // eslint-disable-next-line require-yield -- a pull that delivers nothing until it is closed
        async *[Symbol.asyncIterator]() {
          await done;
        },
      };
    };
    const link = Object.assign(Object.create(NatsLink.prototype) as NatsLink, {
      connection: { isClosed: () => false, getServer: () => '127.0.0.1:4222' },
      manager: { consumers },
      client: { consumers: { get: async () => ({ fetch }) } },
      logger: silentLogger,
      who: 'test',
      clock,
      listeners: new Set(),
    });
    const reader = new NatsPullReader(link, { stream: 's', consumer: 'c', filterSubject: 's.>', logger: silentLogger, who: 'test', clock }, () => 0);
    let started = false;
    const starting = reader.start().then(() => (started = true));
    for (let s = 0; s < 60 && !started; s++) await clock.advanceTo(clock.now() + 1_000);
    await starting;
    expect(calls).toEqual(['info', 'delete', 'add: timeout', 'info: timeout', 'info']);
    expect(consumer?.config).toMatchObject({ deliver_policy: 'all', filter_subject: 's.>' });
    await reader.close();
  });
});
