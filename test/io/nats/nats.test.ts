// The NATS pull reader reads time only from its injected clock: a wait for arrivals ends when that clock says so.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/io/runtime/logger.js';
import { type NatsLink, NatsPullReader } from '../../../src/io/nats/nats.js';
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
});
