// Property-based: whatever the path, query and headers, the API answers below 500, promptly, with a JSON error body.
import fc from 'fast-check';
import { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUCKET_SECONDS } from '../../src/core/event-time.js';
import { dataLayout } from '../../src/io/files/layout.js';
import { silentLogger } from '../../src/io/runtime/logger.js';
import { systemClock } from '../../src/io/runtime/system-clock.js';
import { buildHttpApp, listen } from '../../src/serving/http.js';
import { ServingLayer } from '../../src/serving/serving-layer.js';
import { rawExchange } from '../helpers/http-client.js';
import { chunkText, ingestStreamFiles, publishBatchView, publishRealtimeView, waitFor, writeBatchInputs, writeRealtimeDeltas } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots('file');
/** An answer slower than this is a hang (a normal one takes a few ms). */
const PROMPT_MS = 2_000;

const ROUTES = [
  '/users/u3',
  '/users/u3/series',
  '/users',
  '/series',
  '/top',
  '/view.csv',
  '/status',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/',
  '/nowhere',
];
const PARAMETERS = ['id', 'n', 'by', 'from', 'to', 'step', 'min_version', 'limit', '__proto__', 'constructor'];
/** Values users and attackers try: numbers in every spelling, times, huge and odd strings. */
const value = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '1',
    '-1',
    '10',
    '1000',
    '1001',
    'Infinity',
    'NaN',
    '0x10',
    '1e2',
    '1e400',
    '2.5',
    'amount',
    'count',
    '1h',
    '0s',
    '2026-12-07T00:00:00Z',
    '3600',
    '%00',
    '%zz',
    '\u00e9',
  ),
  fc.string({ maxLength: 40 }),
  fc.integer().map(String),
);
const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAMETERS), fc.string({ maxLength: 8 })), value), { maxLength: 5 });
const headerName = fc.constantFrom('if-none-match', 'accept', 'accept-encoding', 'x-forwarded-for', 'range', 'content-type', 'cookie');

let data: string;
let layer: ServingLayer;
let app: FastifyInstance;
let url: string;
const controller = new AbortController();
let running: Promise<void> | undefined;

beforeAll(async () => {
  ({ data } = newTempRoot());
  writeBatchInputs(data, { 'history.csv': chunkText(1, 200, 10) });
  ingestStreamFiles(data, [chunkText(2, 30, 10)]);
  publishBatchView(data, 1);
  publishRealtimeView(data, 1, 1);
  writeRealtimeDeltas(data, [1]);
  layer = ServingLayer.open({
    layout: dataLayout(data),
    logger: silentLogger,
    clock: systemClock,
    view: 'exact',
    bucketSeconds: DEFAULT_BUCKET_SECONDS,
    csvIntervalMs: 50,
    pollMs: 50,
  });
  running = layer.run(controller.signal);
  await waitFor(() => layer.isReady, 20_000, 'the first load');
  app = buildHttpApp(layer, systemClock);
  url = await listen(app, { host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  controller.abort();
  await running;
  await app?.close();
});

function expectJsonError(status: number, contentType: string | undefined, body: string, what: string): void {
  expect(status, what).toBeLessThan(500);
  if (status >= 400) {
    expect(contentType ?? '', what).toMatch(/^application\/json/);
    expect(JSON.parse(body), what).toHaveProperty('error');
  }
}

describe('the API under generated requests', () => {
  it('any route, any query, any of the usual headers: below 500, within 2 s, a JSON error body for every 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        query,
        fc.array(fc.tuple(headerName, fc.string({ maxLength: 30 })), { maxLength: 3 }),
        fc.constantFrom('GET', 'HEAD'),
        async (route, params, headers, method) => {
          const search = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
          const target = search ? `${route}?${search}` : route;
          const started = performance.now();
          const answer = await app.inject({ method, url: target, headers: Object.fromEntries(headers.filter(([, v]) => /^[\x20-\x7e]*$/.test(v))) });
          expect(performance.now() - started, target).toBeLessThan(PROMPT_MS);
          if (method === 'GET') expectJsonError(answer.statusCode, answer.headers['content-type'] as string | undefined, answer.body, `${method} ${target}`);
          else expect(answer.statusCode, `${method} ${target}`).toBeLessThan(500);
        },
      ),
      { numRuns: 400, seed: 20261207 },
    );
  });

  it('raw request lines with arbitrary bytes in the path and method, on the wire: an answer or a close, never a 5xx, and it keeps answering', async () => {
    const pathBytes = fc.array(fc.integer({ min: 0x21, max: 0xff }), { minLength: 1, maxLength: 30 }).map((bytes) => Buffer.from(bytes).toString('latin1'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'BREW'),
        fc.constantFrom(...ROUTES),
        pathBytes,
        fc.boolean(),
        async (method, route, tail, withHost) => {
          const answer = await rawExchange(url, `${method} ${route}${tail} HTTP/1.1\r\n${withHost ? 'Host: x\r\n' : ''}\r\n`, PROMPT_MS);
          expect(answer.timedOut, `${method} ${route}${tail}`).toBe(false);
          if (answer.status !== null) expect(answer.status, answer.text.slice(0, 200)).toBeLessThan(500);
        },
      ),
      { numRuns: 150, seed: 20261207 },
    );
    const after = await app.inject({ method: 'GET', url: '/users/u3' });
    expect(after.statusCode).toBe(200);
  });
});
