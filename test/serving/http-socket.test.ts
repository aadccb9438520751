// The whole service once through a real socket: the built CLI's `serve --port 0` on a temp folder, fed requests no
// well-behaved client sends (malformed request lines and URLs, slowloris, abandoned connections, SSE churn). Through
// all of it the process stays up and a normal lookup keeps being answered promptly; a second service on the same
// port fails with one clear error line.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, describeRun, errorLines, listeningUrl, requireBuild, runCli, stackLines, startCli } from '../helpers/cli.js';
import { type EventStream, apiUsers, httpRequest, jsonOf, openEventStream, rawExchange } from '../helpers/http-client.js';
import { type Totals } from '../helpers/outputs.js';
import {
  chunkText,
  ingestStreamFiles,
  publishBatchView,
  publishRealtimeView,
  waitForValue,
  waitUntilReady,
  writeBatchInputs,
  writeRealtimeDeltas,
} from '../helpers/pipeline.js';
import { recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots('file');

/** A lookup this slow means the service is stuck (normal: a few ms); generous for a loaded 2-core machine. */
const PROMPT_MS = 2_000;

let data: string;
let serve: RunningCli;
let url: string;
let port: number;
let truth: Totals;
/** Sockets and streams a test left open on purpose; all dropped at the end. */
const leftOpen: (() => void)[] = [];

beforeAll(async () => {
  requireBuild();
  ({ data } = newTempRoot());
  writeBatchInputs(data, { 'history.csv': chunkText(1, 300, 20) });
  ingestStreamFiles(data, [chunkText(2, 40, 20), chunkText(3, 40, 20)]);
  publishBatchView(data, 1);
  publishRealtimeView(data, 1, 2);
  writeRealtimeDeltas(data, [1, 2]);
  truth = recountMasterDataset(data);
  serve = startCli(['serve', '--data', data, '--port', '0', '--interval', '200ms', '--log-level', 'warn'], { timeoutMs: 170_000 });
  url = await listeningUrl(serve);
  port = Number(new URL(url).port);
  await waitUntilReady(url);
});

afterAll(() => {
  for (const close of leftOpen.splice(0)) close();
  if (serve?.child.exitCode === null) serve.child.kill('SIGKILL');
});

/** A normal lookup: answered within PROMPT_MS with the recounted totals, by a process that is still running. */
async function expectPromptLookup(user = 'u3'): Promise<void> {
  expect(serve.child.exitCode, 'the service is still running').toBeNull();
  const answer = await httpRequest(`${url}/users/${user}`, { timeoutMs: PROMPT_MS });
  expect(answer.status).toBe(200);
  expect(jsonOf(answer)).toMatchObject(apiUsers(truth).find((u) => u.user_id === user)!);
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Baseline-comparable count of the service's timers (each open /events stream holds one heartbeat timer). */
async function activeTimers(): Promise<number> {
  const text = (await httpRequest(`${url}/metrics`, { timeoutMs: PROMPT_MS })).text;
  const match = /^lambdaflow_nodejs_active_resources\{type="Timeout"\} (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

describe('malformed requests on raw connections', () => {
  const request = (line: string, headers = 'Host: x\r\n'): string => `${line}\r\n${headers}\r\n`;
  it.each([
    ['bad percent-encoding', 400, request('GET /users/%zz%G1 HTTP/1.1')],
    ['a truncated escape', 400, request('GET /users/u3% HTTP/1.1')],
    ['an escape that is not UTF-8', 400, request('GET /users/%C3%28 HTTP/1.1')],
    ['an overlong path (20,000 bytes)', 431, request(`GET /${'a'.repeat(20_000)} HTTP/1.1`)],
    ['an overlong user id (13,000 bytes)', 400, request(`GET /users/${'a'.repeat(13_000)} HTTP/1.1`)],
    ['an overlong header', 431, request('GET /users/u3 HTTP/1.1', `Host: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n`)],
    ['`//`', 404, request('GET // HTTP/1.1')],
    ['`//` before a route', 404, request('GET //users/u3 HTTP/1.1')],
    ['a raw control byte in the path', 400, request('GET /users/u\x013 HTTP/1.1')],
    ['a raw DEL in the path', 400, request('GET /users/u\x7f3 HTTP/1.1')],
    ['a raw NUL in the path', 400, request('GET /users/u\x003 HTTP/1.1')],
    ['raw non-ASCII bytes in the path', 400, request('GET /users/\xc3\xa9 HTTP/1.1')],
    ['a garbage request line', 400, request('HELLO WORLD')],
    ['TLS bytes on the plain port', 400, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n'],
    ['a path without its slash', 400, request('GET users/u3 HTTP/1.1')],
    ['an unknown HTTP version', 400, request('GET /users/u3 HTTP/9.9')],
    ['no Host header', 400, request('GET /users/u3 HTTP/1.1', '')],
    ['a header line without a colon', 400, request('GET /users/u3 HTTP/1.1', 'Host: x\r\nBroken header\r\n')],
    [
      'Content-Length and chunked together',
      400,
      request('GET /users/u3 HTTP/1.1', 'Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n',
    ],
    [
      'a POST announcing 2 MiB it never sends',
      405,
      request('POST /users/u3 HTTP/1.1', 'Host: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n'),
    ],
    ['a POST with broken chunked encoding', 405, request('POST /users/u3 HTTP/1.1', 'Host: x\r\nTransfer-Encoding: chunked\r\n') + 'zz\r\n'],
    ['HEAD /events', 200, request('HEAD /events HTTP/1.1')],
    // Regressions: without Host, Node's own 400 had an empty body; CONNECT dropped the connection unanswered.
    ['CONNECT', 405, request('CONNECT 127.0.0.1:80 HTTP/1.1')],
  ])('%s: answered %i, and the service keeps answering', async (_name, status, bytes) => {
    const answer = await rawExchange(url, bytes, 5_000);
    expect(answer.timedOut, `an answer or a close within 5 s; got ${JSON.stringify(answer.text.slice(0, 200))}`).toBe(false);
    expect(answer.status, answer.text.slice(0, 300)).toBe(status);
    expect(answer.text.length, 'the error does not echo a long input back').toBeLessThan(1_000);
    if (status >= 400 && !bytes.startsWith('HEAD')) {
      const headEnd = answer.text.indexOf('\r\n\r\n') + 4;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(answer.text.slice(0, headEnd))?.[1]);
      const body = answer.text.slice(headEnd, headEnd + length);
      expect(JSON.parse(body), `a JSON error body: ${answer.text.slice(0, 300)}`).toHaveProperty('error');
    }
    await expectPromptLookup();
  });

  it('regression: a good request pipelined before a malformed one gets its answer, then the error (it used to get only the error)', async () => {
    const answer = await rawExchange(url, `${request('GET /users/u3 HTTP/1.1')}${request('GET /status HTTP/1.1', 'Host: x\r\nBroken header\r\n')}`, 5_000, {
      untilClose: true,
    });
    expect(answer.timedOut).toBe(false);
    const statuses = [...answer.text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(statuses, answer.text.slice(0, 500)).toEqual([200, 400]);
    expect(answer.text).toContain(JSON.stringify(apiUsers(truth).find((u) => u.user_id === 'u3')!.purchase_amount_total));
    await expectPromptLookup();
  });
});

describe('hostile and careless clients', () => {
  it('slowloris: 20 clients sending their request head one byte a second do not delay anyone else', async () => {
    const head = 'GET /users/u3 HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n\r\n';
    const drips: NodeJS.Timeout[] = [];
    const sockets = await Promise.all(Array.from({ length: 20 }, connect));
    for (const socket of sockets) {
      socket.on('error', () => {});
      let sent = 0;
      drips.push(setInterval(() => sent < head.length && socket.write(head[sent++]!), 1_000));
    }
    try {
      // At least three bytes from every slow client while lookups go on.
      const until = Date.now() + 3_200;
      let lookups = 0;
      while (Date.now() < until) {
        await expectPromptLookup();
        lookups++;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(lookups).toBeGreaterThan(3);
    } finally {
      for (const drip of drips) clearInterval(drip);
      for (const socket of sockets) socket.destroy();
    }
  });

  it('abandoned connections: never sending, half a request then close or reset, a request whose answer is never read', async () => {
    const half = 'GET /users/u3 HTTP/1.1\r\nHo';
    const idle = await Promise.all(Array.from({ length: 30 }, connect));
    idle.forEach((socket) => socket.on('error', () => {}));
    leftOpen.push(...idle.map((socket) => () => socket.destroy())); // kept open to the end: the service must not wait for them to stop
    for (let i = 0; i < 30; i++) {
      const socket = await connect();
      socket.on('error', () => {});
      socket.write(half);
      if (i % 3 === 0) socket.end();
      else if (i % 3 === 1) socket.resetAndDestroy();
      else {
        socket.write('st: x\r\n\r\n'); // a whole request, then gone before the answer is read
        socket.destroy();
      }
    }
    for (let i = 0; i < 5; i++) await expectPromptLookup(`u${i + 1}`);
  });
});

describe('/events (Server-Sent Events)', () => {
  it('sends the current version at once, then an event for each new version', async () => {
    const stream = await openEventStream(`${url}/events`);
    leftOpen.push(() => stream.close());
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    const first = await stream.next();
    const status = JSON.parse(first.data) as { version: number; through_seq: number; purchase_amount_total: string };
    expect(first.event).toBe('version');
    expect(first.id).toBe(String(status.version));
    expect(status).toMatchObject({ through_seq: 2, purchase_amount_total: expect.stringMatching(/^\d+\.\d\d$/) });

    const [seq] = ingestStreamFiles(data, [chunkText(4, 10, 20)]);
    writeRealtimeDeltas(data, [seq!]);
    publishRealtimeView(data, 1, seq!);
    const next = JSON.parse((await stream.next(20_000)).data) as { version: number; through_seq: number };
    expect(next).toMatchObject({ version: status.version + 1, through_seq: 3 });
    truth = recountMasterDataset(data);
    await expectPromptLookup();
  });

  it('clients connecting and disconnecting 200 times leave no stream timer behind (it ends with the subscription) and no crash', async () => {
    // The service's own timers come and go a little (its poll sleep): bracket them.
    const readings: number[] = [];
    for (let i = 0; i < 3; i++) readings.push(await activeTimers());
    const [low, high] = [Math.min(...readings), Math.max(...readings)];

    // The measure sees streams: ten open streams hold ten more timers.
    const ten: EventStream[] = [];
    for (let i = 0; i < 10; i++) {
      const stream = await openEventStream(`${url}/events`);
      await stream.next();
      ten.push(stream);
    }
    expect(await activeTimers()).toBeGreaterThanOrEqual(low + 10);
    ten.forEach((stream) => stream.close());

    // Churn: gone after the first event, gone right after the head, gone before any answer.
    for (let i = 0; i < 200; i++) {
      if (i % 3 === 2) {
        const socket = await connect();
        socket.on('error', () => {});
        socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
        socket.destroy();
        continue;
      }
      const stream = await openEventStream(`${url}/events`);
      if (i % 3 === 0) await stream.next();
      stream.close();
    }
    // Closes reach the service a little later: the count must come back down, not merely stop growing.
    await waitForValue(activeTimers, (timers) => timers <= high, 15_000, `the timer count back to ${high} (timers left behind by closed /events streams)`);
    await expectPromptLookup();
  });
});

describe('the port', () => {
  it('already in use: serve exits 1 with exactly one error line naming E_NETWORK', async () => {
    const second = await runCli(['serve', '--data', data, '--port', String(port), '--log-level', 'warn'], { timeoutMs: 30_000 });
    expect(second.code, describeRun(second)).toBe(1);
    expect(errorLines(second.stderr)).toEqual([expect.stringMatching(/^lambdaflow serve: error \[E_NETWORK\]: .*:\d+: the port is in use$/)]);
    expect(second.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stackLines(second.stderr)).toEqual([]);
    expect(second.stdout).toBe('');
    await expectPromptLookup(); // the first service is untouched
  });

  it('already in use: all exits 1 with exactly one error line naming E_NETWORK', async () => {
    const other = newTempRoot().data;
    writeBatchInputs(other, { 'history.csv': chunkText(9, 50, 10) });
    const second = await runCli(['all', '--data', other, '--port', String(port), '--threads', '1', '--rows-per-chunk', '5', '--log-level', 'warn'], {
      timeoutMs: 30_000,
    });
    expect(second.code, describeRun(second)).toBe(1);
    expect(errorLines(second.stderr)).toEqual([expect.stringMatching(/^lambdaflow all: error \[E_NETWORK\]: .*:\d+: the port is in use$/)]);
    expect(second.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stackLines(second.stderr)).toEqual([]);
  });
});

// Last: it stops the service.
it('stops cleanly on SIGTERM with streams, slow and idle clients still connected', async () => {
  const stream = await openEventStream(`${url}/events`);
  await stream.next();
  leftOpen.push(() => stream.close());
  const slow = await connect();
  slow.on('error', () => {});
  slow.write('GET /users/u3 HTTP/1.1\r\nHo');
  leftOpen.push(() => slow.destroy());
  serve.child.kill('SIGTERM');
  const result = await serve.result;
  expect(result.code, describeRun(result)).toBe(0);
  expect(result.timedOut).toBe(false);
  expect(errorLines(result.stderr)).toEqual([]);
});
