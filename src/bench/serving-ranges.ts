// bench:serving's range reads, answers checked against a recount of the batch view's bucket parts first:
// /users/:id over the last 24 hours against the plain lookup, /top over 24 hours (computed and kept), and plain
// lookups while a second client keeps /top computing over ranges no cache holds.

import fs from 'node:fs';
import path from 'node:path';
import { compareUserIds } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { formatCents } from '../core/money.js';
import { formatDurationMs } from '../core/option-values.js';
import { count } from '../core/summary-format.js';
import { readBatchManifest } from '../io/views/manifest.js';
import { BUCKETS_FOLDER } from '../io/views/views.js';
import { type BenchChild } from './child-processes.js';
import { type LatencySummary, type LoadResult, type LoadRun, summarizeLatencies } from './http-load.js';
import { type Distribution, distribution, formatMs } from './report.js';
import { type ServingBenchOptions } from './script-options.js';
import { type UserBody, getJson, getText } from './serve-api.js';
import { loadRun } from './serving-lookups.js';
import { agent } from './serving-service.js';
import { type Watchdog } from './watchdog.js';

const DAY_SECONDS = 86_400;
/** 24-hour ranges ending at each of the last this many buckets: more than serve keeps (16), so a /top computes. */
const TOP_RANGES = 48;
/** The hammering client's connections: serve's limit of range top-N computations at once, so none is refused. */
const TOP_CONNECTIONS = 2;
/** Sequential /top requests timed per kind (kept, computed). */
const SEQUENTIAL_TOPS = 30;
const CHECKED_RANGE_LOOKUPS = 300;
const CHECKED_TOP_N = 100;
const WARMUP_MS = 1_000;

export interface RangeReadsResult {
  /** The last 24 hours of the view's event time, [from, to) in Unix seconds. */
  readonly from: number;
  readonly to: number;
  readonly plain: LatencySummary;
  readonly ranged: LatencySummary;
  readonly topFirstMs: number;
  readonly topKept: Distribution;
  readonly topComputed: Distribution;
  readonly lookupsWhileTop: LatencySummary;
  readonly topsWhileLookups: LatencySummary;
}

interface Totals {
  count: number;
  cents: number;
}

/** Per user, the purchases of [from, to), recounted from the bucket parts' text (not through serve's parser). */
function recountRange(viewDir: string, from: number, to: number): Map<string, Totals> {
  const totals = new Map<string, Totals>();
  const dir = path.join(viewDir, BUCKETS_FOLDER);
  for (const name of fs.readdirSync(dir).filter((n) => n.startsWith('part-'))) {
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (line === '' || line.startsWith('user_id,')) continue;
      const [user, bucket, purchases, amount] = line.split(',');
      if (user === undefined || user.startsWith('"') || amount === undefined)
        throw new LambdaflowError('E_STATE', `${name}: a line the recount cannot read: ${line}`);
      const start = Number(bucket);
      if (start < from || start >= to) continue;
      const t = totals.get(user) ?? { count: 0, cents: 0 };
      t.count += Number(purchases);
      t.cents += Number(amount.replace('.', ''));
      totals.set(user, t);
    }
  }
  return totals;
}

/** The recount's top n by amount, ties by user id, as serve orders it. */
function topByAmount(totals: Map<string, Totals>, n: number): [string, Totals][] {
  return [...totals].sort(([a, x], [b, y]) => y.cents - x.cents || compareUserIds(a, b)).slice(0, n);
}

const rangeQuery = (from: number, to: number): string => `from=${from}&to=${to}`;

async function timedGet(url: string): Promise<{ ms: number; body: string }> {
  const sent = performance.now();
  const answer = await getText(url, agent);
  if (answer.status !== 200) throw new LambdaflowError('E_STATE', `GET ${url}: status ${answer.status}: ${answer.body.slice(0, 200)}`);
  return { ms: performance.now() - sent, body: answer.body };
}

/** Checks range answers for random users and the range's top against the recount. */
async function checkRangeAnswers(
  origin: string,
  userPaths: readonly string[],
  users: readonly string[],
  recount: Map<string, Totals>,
  query: string,
  topBody: string,
): Promise<void> {
  for (let k = 0; k < Math.min(CHECKED_RANGE_LOOKUPS, users.length); k++) {
    const i = Math.floor(Math.random() * users.length);
    const body = await getJson<UserBody>(`${origin}${userPaths[i]}?${query}`, agent);
    const want = recount.get(users[i]!) ?? { count: 0, cents: 0 };
    if (body.purchase_count_total !== want.count || body.purchase_amount_total !== formatCents(want.cents)) {
      throw new LambdaflowError(
        'E_STATE',
        `GET ${userPaths[i]}?${query} answered ${body.purchase_count_total} purchases, ${body.purchase_amount_total}; the recount has ${want.count}, ${formatCents(want.cents)}`,
      );
    }
  }
  const served = (JSON.parse(topBody) as { users: UserBody[] }).users.map((u) => `${u.user_id} ${u.purchase_amount_total}`);
  const expected = topByAmount(recount, CHECKED_TOP_N).map(([u, t]) => `${u} ${formatCents(t.cents)}`);
  if (served.join('\n') !== expected.join('\n'))
    throw new LambdaflowError('E_STATE', `/top?${query} differs from the recount's top ${CHECKED_TOP_N} (first: ${served[0]} vs ${expected[0]})`);
}

/**
 * Range reads on serve's batch view (`viewDir`, with bucket parts): `client` and `topClient` are two load clients in
 * their own processes; `userPaths[i]` is users[i]'s /users/:id path.
 */
export async function measureRangeReads(
  options: ServingBenchOptions,
  client: BenchChild,
  topClient: BenchChild,
  origin: string,
  viewDir: string,
  users: readonly string[],
  userPaths: readonly string[],
  watchdog: Watchdog,
  print: (line: string) => void,
): Promise<RangeReadsResult> {
  const { bucketSeconds, lastEventSecond } = readBatchManifest(viewDir);
  if (!bucketSeconds || lastEventSecond === undefined)
    throw new LambdaflowError('E_STATE', `${viewDir} has no buckets: range reads need a batch view with them`);
  const to = (Math.floor(lastEventSecond / bucketSeconds) + 1) * bucketSeconds;
  const from = to - DAY_SECONDS;
  const query = rangeQuery(from, to);
  const recount = recountRange(viewDir, from, to);
  print(`range reads over [${new Date(from * 1000).toISOString()}, ${new Date(to * 1000).toISOString()}): ${count(recount.size)} users bought in it`);

  const topUrl = `${origin}/top?by=amount&n=${CHECKED_TOP_N}&${query}`;
  const first = await timedGet(topUrl);
  await checkRangeAnswers(origin, userPaths, users, recount, query, first.body);
  print(`  ${count(Math.min(CHECKED_RANGE_LOOKUPS, users.length))} range lookups and the top ${CHECKED_TOP_N} equal the recount of the bucket parts`);
  const kept: number[] = [];
  for (let k = 0; k < SEQUENTIAL_TOPS; k++) kept.push((await timedGet(topUrl)).ms);
  // Ranges ending one bucket apart, each asked for once: computed, not kept.
  const topPaths = Array.from({ length: TOP_RANGES }, (_, k) => rangeQuery(from - k * bucketSeconds, to - k * bucketSeconds)).flatMap((q) => [
    `/top?by=amount&n=10&${q}`,
    `/top?by=count&n=10&${q}`,
  ]);
  const computed: number[] = [];
  for (const p of topPaths.slice(2, 2 + SEQUENTIAL_TOPS)) computed.push((await timedGet(origin + p)).ms);

  const closedLoop = (connections: number): LoadRun => ({ kind: 'closed-loop', connections, warmupMs: WARMUP_MS, durationMs: options.lookupDurationMs });
  const rangedPaths = userPaths.map((p) => `${p}?${query}`);
  const plain: LoadResult[] = [];
  const ranged: LoadResult[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const kind of round % 2 === 1 ? (['plain', 'ranged'] as const) : (['ranged', 'plain'] as const)) {
      const result = await loadRun(
        client,
        { type: 'run', origin, paths: kind === 'plain' ? userPaths : rangedPaths, run: closedLoop(options.connections) },
        watchdog,
        `${kind} lookups`,
      );
      (kind === 'plain' ? plain : ranged).push(result);
      const s = summarizeLatencies([result]);
      print(`  round ${round} ${kind.padEnd(6)}: ${count(s.requestsPerSecond)} requests/s, p50 ${formatMs(s.p50Ms)} ms, p99 ${formatMs(s.p99Ms)} ms`);
    }
  }
  print(
    `  plain lookups for ${formatDurationMs(options.lookupDurationMs)} while ${TOP_CONNECTIONS} connections ask /top over ${TOP_RANGES * 2} ranges and orders ...`,
  );
  const [lookupsWhileTop, topsWhileLookups] = await Promise.all([
    loadRun(client, { type: 'run', origin, paths: userPaths, run: closedLoop(options.connections) }, watchdog, 'lookups while /top is asked'),
    loadRun(topClient, { type: 'run', origin, paths: topPaths, run: closedLoop(TOP_CONNECTIONS) }, watchdog, '/top while lookups run'),
  ]);
  return {
    from,
    to,
    plain: summarizeLatencies(plain),
    ranged: summarizeLatencies(ranged),
    topFirstMs: first.ms,
    topKept: distribution(kept),
    topComputed: distribution(computed),
    lookupsWhileTop: summarizeLatencies([lookupsWhileTop]),
    topsWhileLookups: summarizeLatencies([topsWhileLookups]),
  };
}
