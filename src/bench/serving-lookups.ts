// bench:serving's lookups: serve's GET /users/:id, its answers checked first, against a bare node:http server
// answering one fixed body, under the same closed-loop load from a client process of its own.

import { fileURLToPath } from 'node:url';
import { type UserTotal } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { formatCents } from '../core/money.js';
import { formatDurationMs } from '../core/option-values.js';
import { count } from '../core/summary-format.js';
import { type BenchChild, type ChildProcesses } from './child-processes.js';
import { type BareServerListening, type BareServerRequest, type LatencySummary, type LoadRequest, type LoadResult, summarizeLatencies } from './http-load.js';
import { formatMs } from './report.js';
import { type ServingBenchOptions } from './script-options.js';
import { type HttpAnswer, type UserBody, getText, userPath } from './serve-api.js';
import { agent } from './serving-service.js';
import { type Watchdog } from './watchdog.js';

/** Lookup rounds record after this much unrecorded load (JIT, connections). */
const WARMUP_MS = 1_000;
/** Random users whose /users/:id answers are checked against the batch view before anything is timed. */
export const CHECKED_LOOKUPS = 1_000;
const BARE_HTTP_SERVER = fileURLToPath(new URL('../../bench/bare-http-server.js', import.meta.url));

/** Random users' answers must equal the batch view's totals; returns one answer, the baseline server's body. */
export async function checkLookups(origin: string, users: readonly UserTotal[]): Promise<HttpAnswer> {
  let sample: HttpAnswer | undefined;
  for (let i = 0; i < Math.min(CHECKED_LOOKUPS, users.length); i++) {
    const user = users[Math.floor(Math.random() * users.length)]!;
    const answer = await getText(origin + userPath(user.userId), agent);
    const body = answer.status === 200 ? (JSON.parse(answer.body) as UserBody) : undefined;
    if (body?.user_id !== user.userId || body.purchase_count_total !== user.count || body.purchase_amount_total !== formatCents(user.cents)) {
      throw new LambdaflowError(
        'E_STATE',
        `GET ${userPath(user.userId)} answered ${answer.status} ${answer.body}; the batch view has ${user.count} purchases, ${formatCents(user.cents)}`,
      );
    }
    sample ??= answer;
  }
  if (!sample) throw new LambdaflowError('E_STATE', 'the batch view has no users');
  return sample;
}

/** One load run on `client`; a request that failed or was not answered 200 fails it. */
export async function loadRun(client: BenchChild, request: LoadRequest, watchdog: Watchdog, what: string): Promise<LoadResult> {
  const answered = client.nextMessage<LoadResult>();
  client.send(request);
  const result = await watchdog.guard(answered);
  if (result.errors > 0) throw new LambdaflowError('E_STATE', `${what}: ${result.errors} requests failed (first: ${result.firstError})`);
  return result;
}

export interface LookupResult {
  readonly connections: number;
  readonly rounds: number;
  readonly roundMs: number;
  readonly bodyBytes: number;
  readonly serve: LatencySummary;
  readonly bare: LatencySummary;
  readonly serveRoundP99Ms: readonly number[];
  readonly bareRoundP99Ms: readonly number[];
}

/** Rounds of the same closed-loop load on the bare server and on serve, alternating which goes first. */
export async function measureLookups(
  options: ServingBenchOptions,
  children: ChildProcesses,
  client: BenchChild,
  origin: string,
  paths: readonly string[],
  sample: HttpAnswer,
  watchdog: Watchdog,
  print: (line: string) => void,
): Promise<LookupResult> {
  const bare = children.fork('bare node:http server', BARE_HTTP_SERVER);
  const listening = bare.nextMessage<BareServerListening>();
  const headers = { 'content-type': String(sample.headers['content-type']), etag: String(sample.headers.etag) };
  bare.send({ type: 'serve', body: sample.body, headers } satisfies BareServerRequest);
  const bareOrigin = `http://127.0.0.1:${(await watchdog.guard(listening)).port}`;
  const bareAnswer = await getText(`${bareOrigin}${paths[0]}`, agent);
  if (bareAnswer.status !== 200 || bareAnswer.body !== sample.body)
    throw new LambdaflowError('E_STATE', `the bare server answered ${bareAnswer.status} ${bareAnswer.body}`);

  const run = { kind: 'closed-loop', connections: options.connections, warmupMs: WARMUP_MS, durationMs: options.lookupDurationMs } as const;
  const results = { serve: [] as LoadResult[], bare: [] as LoadResult[] };
  print(
    `lookups: ${options.rounds} round${options.rounds === 1 ? '' : 's'} of ${formatDurationMs(options.lookupDurationMs)} per server, ${options.connections} connections, ${Buffer.byteLength(sample.body)}-byte answers ...`,
  );
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? (['bare', 'serve'] as const) : (['serve', 'bare'] as const);
    for (const server of order) {
      const target = server === 'serve' ? origin : bareOrigin;
      const result = await loadRun(client, { type: 'run', origin: target, paths, run }, watchdog, `lookups on ${server}`);
      results[server].push(result);
      const s = summarizeLatencies([result]);
      print(
        `  round ${round} ${server.padEnd(5)}: ${count(s.requestsPerSecond)} requests/s, p50 ${formatMs(s.p50Ms)} ms, p99 ${formatMs(s.p99Ms)} ms, max ${formatMs(s.maxMs)} ms`,
      );
    }
  }
  await bare.stop();
  const p99s = (runs: readonly LoadResult[]): number[] => runs.map((r) => summarizeLatencies([r]).p99Ms);
  return {
    connections: options.connections,
    rounds: options.rounds,
    roundMs: options.lookupDurationMs,
    bodyBytes: Buffer.byteLength(sample.body),
    serve: summarizeLatencies(results.serve),
    bare: summarizeLatencies(results.bare),
    serveRoundP99Ms: p99s(results.serve),
    bareRoundP99Ms: p99s(results.bare),
  };
}
