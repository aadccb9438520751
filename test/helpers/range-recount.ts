// The serving layer's answers over ranges of event time (/users/:id?from&to, /users/:id/series, /series, /top?from&to)
// checked against an independent recount of a data folder's master dataset per (user, bucket).

import { expect } from 'vitest';
import { type ApiUser, apiCents, httpRequest, jsonOf } from './http-client.js';
import { type Random } from './prng.js';
import { type ReferenceTotal, formatReferenceCents, recountDataFolder } from './reference.js';

interface Range {
  readonly from: number;
  readonly to: number;
}

interface RangeRecount {
  readonly bucketSeconds: number;
  /** Per user, per bucket start. */
  readonly buckets: Map<string, Map<number, ReferenceTotal>>;
  /** The first and last bucket start any purchase fell in. */
  readonly first: number;
  readonly last: number;
}

function rangeRecount(dataDir: string): RangeRecount {
  const recount = recountDataFolder(dataDir, { history: true, afterSeq: 0, throughSeq: Infinity });
  const starts = [...recount.buckets.values()].flatMap((perUser) => [...perUser.keys()]);
  return { bucketSeconds: recount.bucketSeconds, buckets: recount.buckets, first: Math.min(...starts), last: Math.max(...starts) };
}

function totalOver(perBucket: ReadonlyMap<number, ReferenceTotal> | undefined, range: Range): { count: number; cents: number } {
  let count = 0;
  let cents = 0n;
  for (const [start, total] of perBucket ?? []) {
    if (start < range.from || start >= range.to) continue;
    count += total.count;
    cents += total.cents;
  }
  return { count, cents: Number(cents) };
}

/** Ranges worth asking: everything, the last 24 buckets, one bucket, and a few aligned ranges drawn at random. */
function rangesToAsk(recount: RangeRecount, random: Random): Range[] {
  const b = recount.bucketSeconds;
  const end = recount.last + b;
  const ranges = [
    { from: recount.first, to: end },
    { from: end - 24 * b, to: end },
    { from: recount.last, to: end },
  ];
  const buckets = (end - recount.first) / b;
  for (let i = 0; i < 3; i++) {
    const from = recount.first + random.int(buckets) * b;
    ranges.push({ from, to: from + (1 + random.int(Math.max(1, (end - from) / b))) * b });
  }
  return ranges;
}

function topOf(recount: RangeRecount, range: Range, by: 'amount' | 'count'): ApiUser[] {
  const users = [...recount.buckets].map(([userId, perBucket]) => ({ userId, ...totalOver(perBucket, range) }));
  return users
    .filter((u) => u.count !== 0 || u.cents !== 0)
    .sort((x, y) => (by === 'amount' ? y.cents - x.cents : y.count - x.count) || (x.userId < y.userId ? -1 : 1))
    .map((u) => ({ user_id: u.userId, purchase_count_total: u.count, purchase_amount_total: formatReferenceCents(BigInt(u.cents)) }));
}

/**
 * Every range answer of a service whose data no longer changes, at `version`, equals the recount of the data folder:
 * a sample of users over each range (a user with nothing in a range answers zeros), the series of one user and of all
 * users (zero-filled points), and both range top lists. With `refused` (a batch view from before buckets), each range
 * question answers 409 instead, naming the recompute it needs.
 */
export async function expectRangeAnswersEqualRecount(url: string, dataDir: string, version: number, random: Random, refused = false): Promise<void> {
  const recount = rangeRecount(dataDir);
  const users = [...recount.buckets.keys()].sort();
  expect(users.length).toBeGreaterThan(0);
  if (refused) {
    const query = `from=${recount.first}&to=${recount.last + recount.bucketSeconds}`;
    for (const route of [`/users/${encodeURIComponent(users[0]!)}?${query}`, `/series?${query}`, `/top?${query}`]) {
      const answer = await httpRequest(`${url}${route}`);
      expect(answer.status, route).toBe(409);
      expect(jsonOf<{ error: string }>(answer).error, route).toMatch(/batch/);
    }
    return;
  }
  for (const range of rangesToAsk(recount, random)) {
    const query = `from=${range.from}&to=${range.to}`;
    const sample = Array.from({ length: Math.min(12, users.length) }, () => random.pick(users));
    for (const user of sample) {
      const answer = jsonOf<ApiUser & { from: number; to: number; version: number }>(await httpRequest(`${url}/users/${encodeURIComponent(user)}?${query}`));
      const expected = totalOver(recount.buckets.get(user), range);
      expect({ ...answer, cents: apiCents(answer.purchase_amount_total) }, `${user} ${query}`).toMatchObject({
        user_id: user,
        from: range.from,
        to: range.to,
        version,
        purchase_count_total: expected.count,
        cents: expected.cents,
      });
    }
    // At most 10,000 points a series (a longer one is refused, tested apart).
    const step = recount.bucketSeconds * Math.max(1 + random.int(3), Math.ceil((range.to - range.from) / recount.bucketSeconds / 10_000));
    const points = (
      prefix: string,
      perBucket: (start: number, end: number) => { count: number; cents: number },
    ): { start: number; purchase_count: number; purchase_amount: string }[] => {
      const expected = [];
      for (let start = range.from; start < range.to; start += step) {
        const total = perBucket(start, Math.min(start + step, range.to));
        expected.push({ start, purchase_count: total.count, purchase_amount: formatReferenceCents(BigInt(total.cents)) });
      }
      expect(expected.length, prefix).toBeGreaterThan(0);
      return expected;
    };
    const user = random.pick(users);
    const userSeries = jsonOf<{ points: unknown[]; version: number }>(
      await httpRequest(`${url}/users/${encodeURIComponent(user)}/series?${query}&step=${step}s`),
    );
    expect(userSeries, `${user} series ${query}`).toMatchObject({
      version,
      points: points(user, (from, to) => totalOver(recount.buckets.get(user), { from, to })),
    });
    const series = jsonOf<{ points: unknown[]; version: number }>(await httpRequest(`${url}/series?${query}&step=${step}s`));
    const overAll = (from: number, to: number): { count: number; cents: number } =>
      [...recount.buckets.values()]
        .map((perBucket) => totalOver(perBucket, { from, to }))
        .reduce((a, t) => ({ count: a.count + t.count, cents: a.cents + t.cents }), { count: 0, cents: 0 });
    expect(series, `series ${query}`).toMatchObject({ version, points: points('all', overAll) });
    for (const by of ['amount', 'count'] as const) {
      const top = jsonOf<{ users: ApiUser[]; version: number }>(await httpRequest(`${url}/top?by=${by}&n=1000&${query}&min_version=${version}`));
      expect(top, `top by ${by} ${query}`).toMatchObject({ version, users: topOf(recount, range, by).slice(0, 1000) });
    }
  }
}
