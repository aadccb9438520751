// The NATS JetStream source through the real CLI and a real nats-server (JetStream, file storage, a free loopback
// port): every published message counted exactly once — across speed --once runs, kill -9 of the speed layer at
// random moments, two speed processes on two partitions, publishers' duplicates, and the server itself killed and
// restarted under a running speed layer; and on a 3-server cluster, one server killed with the speed process on it.
// What was published is read back from the stream with the NATS client (not
// src/) and recounted from the README's row rules.
import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, describeRun, errorLines, listeningUrl, runCli, runCliOk, startCli } from '../helpers/cli.js';
import { NatsTestCluster, NatsTestServer, SKIP_NATS, consumerPeers, freePort, publishMany, publishWithId, streamMessages } from '../helpers/nats-server.js';
import { expectRangeAnswersEqualRecount } from '../helpers/range-recount.js';
import { loggedStreamFiles, partitionStreamIds, plain, readMergedView, streamHeadThroughSeq } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, waitFor, writeBatchInputs } from '../helpers/pipeline.js';
import { seeded } from '../helpers/prng.js';
import { type Recount, recountFile, recountMasterDataset } from '../helpers/reference.js';
import { makeTempDir, removeTempDir, tempRoots } from '../helpers/temp-dirs.js';

const FAST = ['--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '1', '--log-level', 'warn'];
const HISTORY = `user_id,event_type,amount,unix_timestamp\n${chunkText(1, 200)}`;
const newTempRoot = tempRoots();
const children: ChildProcess[] = [];
let server: NatsTestServer | undefined;
let storeRoot: string | undefined;
let streams = 0;

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

beforeAll(async () => {
  if (SKIP_NATS) return;
  storeRoot = makeTempDir('lf-nats-');
  server = await NatsTestServer.start(storeRoot);
});

afterAll(async () => {
  await server?.stop();
  if (storeRoot) removeTempDir(storeRoot);
});

/** A stream name of its own for each test (they share the server), over subjects of its own (`<name>.>`). */
function freshStream(): string {
  return `t${process.pid}x${++streams}`;
}

/** A data folder with history and a first batch view of it (the merged view is batch view + realtime view). */
async function newDataDir(): Promise<string> {
  const { data } = newTempRoot();
  writeBatchInputs(data, { 'history.csv': HISTORY });
  await runCliOk(['batch', '--data', data, '--threads', '1']);
  return data;
}

function start(args: string[], timeoutMs = 55_000): RunningCli {
  const running = startCli(args, { timeoutMs });
  children.push(running.child);
  return running;
}

/** batch_input/ plus every message the stream holds, recounted (each payload ends with a newline, as published). */
async function expectedTotals(dataDir: string, stream: string, url = server!.url): Promise<Recount['totals']> {
  const recount = recountFile(HISTORY);
  for (const message of await streamMessages(url, stream)) recountFile(message.text, recount);
  const totals = recount.totals;
  for (const [user, t] of totals) if (t.count === 0 && t.cents === 0n) totals.delete(user);
  expect(fs.existsSync(dataDir)).toBe(true);
  return totals;
}

function asPlain(totals: Recount['totals']): ReturnType<typeof plain> {
  return plain(new Map([...totals].map(([user, t]) => [user, { count: t.count, cents: Number(t.cents) }])));
}

/** `merge --once`: the merged view equals the recount of what was published, and the README's recount of the master dataset. */
async function expectExactAgainstStream(dataDir: string, stream: string, url = server!.url): Promise<void> {
  const merged = await runCli(['merge', '--once', '--data', dataDir]);
  expect(merged.code, describeRun(merged)).toBe(0);
  const view = plain(readMergedView(dataDir));
  expect(view).toEqual(asPlain(await expectedTotals(dataDir, stream, url)));
  expect(view).toEqual(plain(recountMasterDataset(dataDir)));
}

/** The stream seqs of the NATS files a stream's ingest log names: consecutive, disjoint, from 1 (each message logged once). */
function loggedNatsRanges(dataDir: string, stream = 'default'): { first: number; last: number }[] {
  return loggedStreamFiles(dataDir, stream)
    .map((e) => /msgs-(\d+)-(\d+)\.csv$/.exec(e.name))
    .filter((m) => m !== null)
    .map((m) => ({ first: Number(m[1]), last: Number(m[2]) }));
}

/** The stream's options: its name, and its subjects `<name>.>` (streams on one server must not overlap). */
const natsStream = (stream: string): string[] => ['--nats-stream', stream, '--nats-subject', `${stream}.>`];
const source = (stream: string): string[] => ['--source', server!.url, ...natsStream(stream)];
const sink = (stream: string): string[] => ['--sink', server!.url, ...natsStream(stream)];

describe.skipIf(SKIP_NATS !== undefined)('NATS JetStream source', () => {
  it('counts what gen-stream --sink published once: speed --once, batch and merge agree with the stream; duplicates and reruns are dropped', async () => {
    const dir = await newDataDir();
    const stream = freshStream();
    await runCliOk(['gen-stream', '--data', dir, ...sink(stream), '--chunks', '6', '--interval', '10ms', '--rows-per-chunk', '300', '--seed', '11']);
    // A producer's retry with the same message id is stored once; gen-stream rerun with the same seed publishes the same ids.
    expect((await publishWithId(server!.url, `${stream}.0`, chunkText(5, 40), 'extra-1')).duplicate).toBe(false);
    expect((await publishWithId(server!.url, `${stream}.0`, chunkText(5, 40), 'extra-1')).duplicate).toBe(true);
    await runCliOk(['gen-stream', '--data', dir, ...sink(stream), '--chunks', '6', '--interval', '10ms', '--rows-per-chunk', '300', '--seed', '11']);
    expect((await streamMessages(server!.url, stream)).length).toBe(7);

    const first = await runCli(['speed', '--once', '--data', dir, ...FAST, ...source(stream)]);
    expect(first.code, describeRun(first)).toBe(0);
    expect(loggedNatsRanges(dir)).toEqual([{ first: 1, last: 7 }]);
    await expectExactAgainstStream(dir, stream);

    // More messages, a batch in between, a second run: only the new ones are read; the batch absorbed the first file.
    await runCliOk(['batch', '--data', dir, '--threads', '1']);
    await runCliOk(['gen-stream', '--data', dir, ...sink(stream), '--chunks', '3', '--interval', '10ms', '--rows-per-chunk', '200', '--seed', '12']);
    const second = await runCli(['speed', '--once', '--data', dir, ...FAST, ...source(stream)]);
    expect(second.code, describeRun(second)).toBe(0);
    expect(loggedNatsRanges(dir)).toEqual([
      { first: 1, last: 7 },
      { first: 8, last: 10 },
    ]);
    await expectExactAgainstStream(dir, stream);
    await runCliOk(['batch', '--data', dir, '--threads', '1']);
    await expectExactAgainstStream(dir, stream);
    const manifest = fs
      .readdirSync(path.join(dir, 'serving', 'batch'))
      .sort()
      .at(-1)!;
    const inputs = (
      JSON.parse(fs.readFileSync(path.join(dir, 'serving', 'batch', manifest, '_MANIFEST.json'), 'utf8')) as { inputs: { name: string; source: string }[] }
    ).inputs;
    expect(inputs.filter((i) => i.source === 'master').map((i) => i.name)).toEqual([
      'msgs-000000000001-000000000007.csv',
      'msgs-000000000008-000000000010.csv',
    ]);

    // The default stream read from NATS still takes files renamed into stream_input/ (replays of quarantined rows).
    dropStreamFile(dir, 'replay-x.csv', chunkText(9, 30));
    const third = await runCli(['speed', '--once', '--data', dir, ...FAST, ...source(stream)]);
    expect(third.code, describeRun(third)).toBe(0);
    expect(loggedStreamFiles(dir).at(-1)?.name).toBe('replay-x.csv');
    const merged = await runCli(['merge', '--once', '--data', dir]);
    expect(merged.code, describeRun(merged)).toBe(0);
    expect(plain(readMergedView(dir))).toEqual(plain(recountMasterDataset(dir)));
  });

  it('regression: speed --once stopped catching up after its first file (a file not yet written kept it from taking more)', async () => {
    const dir = await newDataDir();
    const stream = freshStream();
    await runCliOk(['gen-stream', '--data', dir, ...sink(stream), '--chunks', '1', '--rows-per-chunk', '10']);
    // More messages than one file holds (10,000), so the final micro-batch writes several files.
    await publishMany(
      server!.url,
      `${stream}.0`,
      Array.from({ length: 10_500 }, (_, i) => `u${i % 97},purchase,1.${String(i % 100).padStart(2, '0')},1700000000`),
      'bulk',
    );
    const once = await runCli(['speed', '--once', '--data', dir, ...FAST, ...source(stream)]);
    expect(once.code, describeRun(once)).toBe(0);
    expect(loggedNatsRanges(dir).at(-1)?.last, describeRun(once)).toBe(10_501);
    await expectExactAgainstStream(dir, stream);
  });

  it('stays exact when the speed layer is killed (kill -9) at random moments while publishing goes on', async () => {
    const dir = await newDataDir();
    const stream = freshStream();
    const random = seeded(4242);
    const producer = start(['gen-stream', '--data', dir, ...sink(stream), '--interval', '40ms', '--rows-per-chunk', '50', '--seed', '21', '--chunks', '250']);
    for (let round = 0; round < 5; round++) {
      const speed = start(['speed', '--data', dir, ...FAST, ...source(stream)]);
      await new Promise((r) => setTimeout(r, 700 + random.int(1_300)));
      speed.child.kill('SIGKILL');
      await speed.result;
      if (round === 2) await runCliOk(['batch', '--data', dir, '--threads', '1']);
      // A producer of its own publishes a message twice (a retry): stored once.
      await publishWithId(server!.url, `${stream}.0`, chunkText(100 + round, 20), `retry-${round}`);
      await publishWithId(server!.url, `${stream}.0`, chunkText(100 + round, 20), `retry-${round}`);
    }
    const result = await producer.result;
    expect(result.code, describeRun(result)).toBe(0);
    const last = start(['speed', '--data', dir, ...FAST, ...source(stream)]);
    const total = (await streamMessages(server!.url, stream)).length;
    await waitFor(() => loggedNatsRanges(dir).at(-1)?.last === total, 30_000, `all ${total} messages logged`);
    last.child.kill('SIGTERM');
    expect((await last.result).code).toBe(0);
    // Each stream seq in exactly one logged file.
    const ranges = loggedNatsRanges(dir);
    ranges.forEach((range, i) => expect(range.first).toBe(i === 0 ? 1 : ranges[i - 1]!.last + 1));
    await expectExactAgainstStream(dir, stream);
  });

  it('two speed processes on two partitions, each killed and restarted at random: batch, serve and merge are exact', async () => {
    const dir = await newDataDir();
    const stream = freshStream();
    const random = seeded(777);
    const partitions = ['--nats-partitions', '2'];
    const producer = start([
      'gen-stream',
      '--data',
      dir,
      ...sink(stream),
      ...partitions,
      '--interval',
      '40ms',
      '--rows-per-chunk',
      '60',
      '--seed',
      '31',
      '--chunks',
      '200',
    ]);
    const speedOf = (partition: number): RunningCli =>
      start(['speed', '--data', dir, ...FAST, ...source(stream), ...partitions, '--partition', String(partition)]);
    const running = [speedOf(0), speedOf(1)];
    const serve = start(['serve', '--data', dir, '--port', '0', '--interval', '200ms', '--log-level', 'warn']);
    const url = await listeningUrl(serve);
    for (let round = 0; round < 6; round++) {
      await new Promise((r) => setTimeout(r, 500 + random.int(900)));
      const victim = random.int(2);
      running[victim]!.child.kill('SIGKILL');
      await running[victim]!.result;
      if (round === 3) await runCliOk(['batch', '--data', dir, '--threads', '1']);
      running[victim] = speedOf(victim);
    }
    const produced = await producer.result;
    expect(produced.code, describeRun(produced)).toBe(0);
    for (const speed of running) speed.child.kill('SIGTERM');
    for (const speed of running) expect((await speed.result).code).toBe(0);
    expect(partitionStreamIds(dir)).toEqual(['p0', 'p1']);
    // Each partition's files hold only its subject's messages, each once; together, every message.
    const messages = await streamMessages(server!.url, stream);
    for (const [i, id] of ['p0', 'p1'].entries()) {
      const logged = loggedStreamFiles(dir, id).map((e) => e.name);
      expect(logged.every((name) => name.startsWith(`master/nats/${id}/msgs-`))).toBe(true);
      const seqs = loggedNatsRanges(dir, id);
      const mine = messages.filter((m) => m.subject === `${stream}.${i}`).map((m) => m.seq);
      expect(seqs[0]!.first).toBe(mine[0]);
      expect(seqs.at(-1)!.last).toBe(mine.at(-1));
    }
    await expectExactAgainstStream(dir, stream);

    // serve follows both partitions' realtime views, then a batch absorbing them: the same totals, per user.
    const expected = asPlain(await expectedTotals(dir, stream));
    const status = async (): Promise<{ through_seq: number; streams?: Record<string, { batch_watermark: number; through_seq: number }> }> =>
      (await fetch(`${url}/status`)).json() as never;
    const throughOf = (id: string): number => streamHeadThroughSeq(dir, id);
    let last = await status();
    for (let i = 0; i < 200 && !(last.streams?.p0?.through_seq === throughOf('p0') && last.streams?.p1?.through_seq === throughOf('p1')); i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = await status();
    }
    expect(last.streams?.p0?.through_seq).toBe(throughOf('p0'));
    expect(last.streams?.p1?.through_seq).toBe(throughOf('p1'));
    const users = Object.keys(expected).slice(0, 20);
    for (const user of users) {
      const body = (await (await fetch(`${url}/users/${user}`)).json()) as { purchase_count_total: number };
      expect(body.purchase_count_total, user).toBe(expected[user]!.count);
    }
    // Over ranges of event time too, from both partitions' realtime views, and after a batch absorbed them.
    const version = async (): Promise<number> => ((await (await fetch(`${url}/status`)).json()) as { version: number }).version;
    await expectRangeAnswersEqualRecount(url, dir, await version(), random);
    await runCliOk(['batch', '--data', dir, '--threads', '1']);
    for (let i = 0; i < 100 && (await status()).streams?.p0?.batch_watermark !== throughOf('p0'); i++) await new Promise((r) => setTimeout(r, 100));
    const swapped = await status();
    expect(swapped.streams?.p0?.batch_watermark).toBe(throughOf('p0'));
    expect(swapped.streams?.p1?.batch_watermark).toBe(throughOf('p1'));
    for (const user of users) {
      const body = (await (await fetch(`${url}/users/${user}`)).json()) as { purchase_count_total: number };
      expect(body.purchase_count_total, user).toBe(expected[user]!.count);
    }
    await expectRangeAnswersEqualRecount(url, dir, await version(), random);
    serve.child.kill('SIGTERM');
    expect((await serve.result).code).toBe(0);
    await expectExactAgainstStream(dir, stream);
  });

  it('survives the server being killed (kill -9) and restarted under a running speed layer: one line per outage, exact at the end', async () => {
    const dir = await newDataDir();
    const stream = freshStream();
    const speed = start(['speed', '--data', dir, ...FAST, ...source(stream), '--log-level', 'info']);
    await waitFor(() => speed.output().includes(`speed: reading ${stream}.>`), 20_000, 'the speed layer to start reading');
    const producer = start(['gen-stream', '--data', dir, ...sink(stream), '--interval', '30ms', '--rows-per-chunk', '40', '--seed', '41', '--chunks', '150']);
    for (let outage = 0; outage < 2; outage++) {
      await new Promise((r) => setTimeout(r, 1_200));
      await server!.kill();
      await new Promise((r) => setTimeout(r, 1_000));
      await server!.restart();
    }
    const produced = await producer.result;
    expect(produced.code, describeRun(produced)).toBe(0);
    const total = (await streamMessages(server!.url, stream)).length;
    await waitFor(() => loggedNatsRanges(dir).at(-1)?.last === total, 30_000, `all ${total} messages logged`);
    speed.child.kill('SIGTERM');
    const stopped = await speed.result;
    expect(stopped.code, describeRun(stopped)).toBe(0);
    expect(stopped.stderr.match(/lost the NATS server/g)?.length, stopped.stderr).toBe(2);
    expect(stopped.stderr.match(/NATS server at nats:\/\/127\.0\.0\.1:\d+ is back after/g)?.length, stopped.stderr).toBe(2);
    const ranges = loggedNatsRanges(dir);
    ranges.forEach((range, i) => expect(range.first).toBe(i === 0 ? 1 : ranges[i - 1]!.last + 1));
    await expectExactAgainstStream(dir, stream);
  });

  it('all --source nats://…: its generator publishes, its speed layer reads, and its merged view is exact when it stops', async () => {
    const dir = await newDataDir();
    const stream = freshStream();
    const all = await runCli(
      [
        'all',
        '--data',
        dir,
        ...source(stream),
        '--duration',
        '4s',
        '--stream-interval',
        '100ms',
        '--rows-per-chunk',
        '100',
        '--merge-interval',
        '200ms',
        '--port',
        '0',
        ...FAST,
      ],
      { timeoutMs: 50_000 },
    );
    expect(all.code, describeRun(all)).toBe(0);
    expect((await streamMessages(server!.url, stream)).length).toBeGreaterThan(10);
    expect(plain(readMergedView(dir))).toEqual(asPlain(await expectedTotals(dir, stream)));
    await expectExactAgainstStream(dir, stream);
  });

  it('an unreachable server is one E_NETWORK line and exit 1 within seconds, for speed and gen-stream', async () => {
    const dir = await newDataDir();
    const nowhere = `nats://127.0.0.1:${await freePort()}`;
    for (const args of [
      ['speed', '--data', dir, ...FAST, '--source', nowhere],
      ['gen-stream', '--data', dir, '--sink', nowhere, '--chunks', '1'],
    ]) {
      const run = await runCli(args, { timeoutMs: 15_000 });
      expect(run.code, describeRun(run)).toBe(1);
      expect(run.elapsedMs).toBeLessThan(8_000);
      expect(errorLines(run.stderr)).toHaveLength(1);
      expect(run.stderr).toMatch(new RegExp(`error \\[E_NETWORK\\]: cannot reach the NATS server at ${nowhere}`));
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe.skipIf(SKIP_NATS !== undefined)('NATS JetStream cluster (3 servers on loopback)', () => {
  let cluster: NatsTestCluster | undefined;
  let clusterRoot: string | undefined;

  beforeAll(async () => {
    if (SKIP_NATS) return;
    clusterRoot = makeTempDir('lf-nats-cluster-');
    cluster = await NatsTestCluster.start(clusterRoot);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    if (clusterRoot) removeTempDir(clusterRoot);
  });

  /** The server a speed process reads from, as its start line names it. */
  async function readingFrom(speed: RunningCli, stream: string): Promise<string> {
    const line = new RegExp(`speed: reading ${stream}\\.\\d+ of NATS stream ${stream} .* from (nats://\\S+)`);
    await waitFor(() => line.test(speed.output()) || speed.child.exitCode !== null, 60_000, `a speed process to start reading ${stream}`);
    const match = line.exec(speed.output());
    if (!match) throw new Error(`the speed process exited: ${describeRun(await speed.result)}`);
    return match[1]!;
  }

  it('one server killed (kill -9) mid-stream with the speed process on it: the other fails over, the restarted one (same list) reads on, exact', async () => {
    const dir = await newDataDir();
    const stream = freshStream();
    const streamArgs = [...natsStream(stream), '--nats-partitions', '2', '--nats-replicas', '3'];
    const speedOf = (partition: number, url: string): RunningCli =>
      start(['speed', '--data', dir, ...FAST, '--source', url, ...streamArgs, '--partition', String(partition), '--log-level', 'info'], 150_000);
    let p0 = speedOf(0, cluster!.url);
    const victim = cluster!.member(await readingFrom(p0, stream));
    // p1 is given the victim alone: it fails over to the members the cluster told it of.
    const p1 = speedOf(1, victim.url);
    await readingFrom(p1, stream);
    // Durable consumers of a replicated stream are replicated too: losing a server loses neither.
    for (const consumer of ['speed-p0', 'speed-p1']) expect(await consumerPeers(cluster!.url, stream, consumer)).toBe(3);
    const producer = start(
      ['gen-stream', '--data', dir, '--sink', cluster!.url, ...streamArgs, '--interval', '30ms', '--rows-per-chunk', '40', '--seed', '51', '--chunks', '250'],
      150_000,
    );
    await waitFor(() => loggedNatsRanges(dir, 'p0').length > 0 && loggedNatsRanges(dir, 'p1').length > 0, 60_000, 'both partitions reading');

    p0.child.kill('SIGKILL');
    await Promise.all([victim.kill(), p0.result]);
    // Restarted with the same list, the dead server's connection refused: it connects to another.
    p0 = speedOf(0, cluster!.url);
    expect(await readingFrom(p0, stream)).not.toBe(victim.url);

    const produced = await producer.result;
    expect(produced.code, describeRun(produced)).toBe(0);
    const messages = await streamMessages(cluster!.url, stream);
    const lastOf = (i: number): number | undefined => messages.filter((m) => m.subject === `${stream}.${i}`).at(-1)?.seq;
    await waitFor(() => [0, 1].every((i) => loggedNatsRanges(dir, `p${i}`).at(-1)?.last === lastOf(i)), 90_000, 'every message logged by its partition');
    for (const speed of [p0, p1]) speed.child.kill('SIGTERM');
    const [stopped0, stopped1] = await Promise.all([p0.result, p1.result]);
    expect(stopped0.code, describeRun(stopped0)).toBe(0);
    expect(stopped1.code, describeRun(stopped1)).toBe(0);
    expect(stopped1.stderr, stopped1.stderr).toMatch(/speed: failed over to the NATS server at nats:\/\/127\.0\.0\.1:\d+ after/);
    for (const i of [0, 1]) {
      const ranges = loggedNatsRanges(dir, `p${i}`);
      ranges.forEach((range, j) => j > 0 && expect(range.first).toBeGreaterThan(ranges[j - 1]!.last));
    }
    await expectExactAgainstStream(dir, stream, cluster!.url);

    // An existing stream of 3 replicas taken for one of 1 is refused, naming both.
    const mismatch = await runCli(
      [
        'speed',
        '--once',
        '--data',
        dir,
        ...FAST,
        '--source',
        cluster!.url,
        ...natsStream(stream),
        '--nats-partitions',
        '2',
        '--partition',
        '0',
        '--nats-replicas',
        '1',
      ],
      { timeoutMs: 60_000 },
    );
    expect(mismatch.code, describeRun(mismatch)).toBe(2);
    expect(errorLines(mismatch.stderr)).toHaveLength(1);
    expect(mismatch.stderr).toMatch(new RegExp(`error \\[E_OPTIONS\\]: --nats-replicas 1: stream ${stream} .* has 3 replicas`));
    await victim.restart();
  }, 400_000);
});
