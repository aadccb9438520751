// The serving layer's HTTP API (fastify): parses, validates and formats; every answer comes from one snapshot of
// the store (read through ServingReads, nothing more) and carries its version. Routes are listed in docs/api.md; their
// names are a contract.

import { type IncomingMessage, STATUS_CODES, type ServerResponse, maxHeaderSize } from 'node:http';
import { type Duplex } from 'node:stream';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type UserTotal } from '../core/agg-table.js';
import { type Clock } from '../core/clock.js';
import { ConcurrencyLimit } from '../core/concurrency-limit.js';
import { LambdaflowError } from '../core/errors.js';
import { type BucketRange, type EventTimeHead, bucketRange, formatSeconds, parseTimeSeconds } from '../core/event-time.js';
import { formatCents } from '../core/money.js';
import { parseDurationMs } from '../core/option-values.js';
import { DEFAULT_STREAM } from '../io/files/layout.js';
import { RESPONSE_SCHEMAS, paramsSchema } from './api-schemas.js';
import { NO_BATCH_VIEW, type ServedWindow, type SnapshotStatus } from './current-version.js';
import { LIVE_PAGE } from './live-page.js';
import { TOP_MAX } from './lookups.js';
import { servingMetrics } from './metrics.js';
import { type RangeTotals } from './range-reads.js';
import { type ServingReads } from './serving-reads.js';

export interface HttpConfig {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
}

/** A user id in a URL: at most this many UTF-8 bytes, and no control characters. */
export const MAX_USER_ID_BYTES = 1024;
export const MAX_IDS_PER_REQUEST = 1_000;
/** An SSE client this far behind is cut off rather than buffered for without bound. */
const MAX_SSE_BACKLOG_BYTES = 1 << 20;
const SSE_HEARTBEAT_MS = 15_000;

function userBody(user: UserTotal): { user_id: string; purchase_count_total: number; purchase_amount_total: string } {
  return { user_id: user.userId, purchase_count_total: user.count, purchase_amount_total: formatCents(user.cents) };
}

/** Points a series may have. */
export const MAX_SERIES_POINTS = 10_000;

const eventTimeOf = (head: EventTimeHead | null): { watermark: number | null; late_rows: number } => ({
  watermark: head?.watermark ?? null,
  late_rows: head?.lateRows ?? 0,
});

/** Every answer's event-time watermark (Unix seconds, null before any event) and late rows, of each stream. */
export function eventTimeBody(status: SnapshotStatus): Record<string, unknown> {
  const streams = Object.entries(status.streams);
  return {
    ...eventTimeOf(status.eventTime),
    ...(streams.length > 0 ? { streams: Object.fromEntries(streams.map(([id, p]) => [id, eventTimeOf(p.eventTime)])) } : {}),
  };
}

/**
 * The window the window view serves, as /status says it: its folder, and its bounds as `_WINDOW.json` gives them (an
 * event-time window's in Unix seconds with the watermark and late rows then, a processing-time one's in ms; `time`
 * null when the window has no readable `_WINDOW.json`).
 */
export function windowBody(window: ServedWindow): Record<string, unknown> {
  const { name, info } = window;
  if (!info) return { name, time: null };
  if (info.time === 'processing') return { name, time: info.time, start_ms: info.startMs, end_ms: info.endMs };
  return { name, time: info.time, start: info.start, end: info.end, watermark: info.watermark, late_rows: info.lateRows };
}

/** /status and each /events message. */
export function statusBody(
  serving: Pick<ServingReads, 'eventsPerSecond' | 'badRows' | 'bucketSeconds' | 'sourceUnreadableSeconds'>,
  status: SnapshotStatus,
  nowMs: number,
): Record<string, unknown> {
  const unreadable = serving.sourceUnreadableSeconds;
  const unreadableOf = (stream: string): number => Math.round((unreadable.get(stream) ?? 0) * 10) / 10;
  return {
    version: status.version,
    batch_view: status.batchView,
    batch_watermark: status.batchWatermark,
    through_seq: status.throughSeq,
    users: status.users,
    purchase_count_total: status.purchases,
    purchase_amount_total: formatCents(status.cents),
    built_at: new Date(status.builtAtMs).toISOString(),
    staleness_ms: status.lastIngestedAtMs === null ? null : Math.max(0, nowMs - status.lastIngestedAtMs),
    events_per_second: serving.eventsPerSecond === null ? null : Math.round(serving.eventsPerSecond),
    bad_rows: serving.badRows,
    changed_users: status.changedUsers,
    change: status.kind,
    ...(status.batchView === null ? { notice: NO_BATCH_VIEW } : {}),
    event_time: eventTimeBody(status),
    bucket_seconds: serving.bucketSeconds,
    // The window view: which speed window the version holds.
    ...(status.window !== null ? { window: windowBody(status.window) } : {}),
    // A speed layer that cannot read its source (a NATS cluster not answering) for more than a few seconds; 0 while it reads.
    source_unreadable_seconds: unreadableOf(DEFAULT_STREAM),
    // NATS partition streams: each one's batch watermark and last ingest seq reflected (the fields above: the default stream's).
    ...(Object.keys(status.streams).length > 0
      ? {
          streams: Object.fromEntries(
            Object.entries(status.streams).map(([id, p]) => [
              id,
              { batch_watermark: p.batchWatermark, through_seq: p.throughSeq, source_unreadable_seconds: unreadableOf(id) },
            ]),
          ),
        }
      : {}),
  };
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const badParameter = (name: string, problem: string): HttpError => new HttpError(400, `bad parameter ${name}: ${problem}`, { parameter: name });

/** Checks a user id from a URL (already percent-decoded). */
function checkUserId(id: string, name: string): void {
  if (id.length === 0) throw badParameter(name, 'empty user id');
  if (Buffer.byteLength(id) > MAX_USER_ID_BYTES) throw badParameter(name, `longer than ${MAX_USER_ID_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\u0000-\u001f\u007f-\u009f]/.test(id)) throw badParameter(name, 'control characters are not allowed');
}

const minVersionSchema = { type: 'integer', minimum: 0 } as const;
/**
 * Heavy answers in flight at once: streams of /view.csv (each a whole view) and range top-N computations. Past
 * these, 429 with Retry-After: queued, they would hold memory and event-loop turns that lookups need.
 */
const VIEW_CSV_CONCURRENCY = 2;
const RANGE_TOP_CONCURRENCY = 2;

/** A query integer's digits: no sign, exponent, radix prefix or Infinity, and few enough to stay exact as a number. */
const DECIMAL_DIGITS = 15;
const DECIMAL = new RegExp(`^(0|[1-9][0-9]{0,${DECIMAL_DIGITS - 1}})$`);

/**
 * Answers on a connection whose request could not be parsed (or is not HTTP's to route), with a JSON error, then
 * closes it. A pipelined request before it still has its answer in flight: that one is sent first.
 */
function answerUnparsed(socket: Duplex, status: number, message: string, version: number | null, headers = ''): void {
  if (socket.destroyed) return;
  let sent = false;
  const send = (): void => {
    if (sent || socket.destroyed) return;
    sent = true;
    const body = JSON.stringify({ error: message.slice(0, 200), version });
    if (!socket.writable) return void socket.destroy();
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${headers}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  };
  // Node keeps the response being written on its socket as _httpMessage (no public way to ask).
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (inFlight && !inFlight.writableFinished) {
    inFlight.once('finish', send);
    inFlight.once('close', send);
  } else {
    send();
  }
}

/** The query parameters a request's route takes (none for a route without a query schema). */
function queryPropertiesOf(request: FastifyRequest): Record<string, unknown> {
  return (request.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
}
/** A point in time (Unix seconds or ISO 8601 UTC) or a step (a duration), as given: checked by the handlers. */
const timeSchema = { type: 'string', minLength: 1, maxLength: 40 } as const;
const rangeSchema = { from: timeSchema, to: timeSchema } as const;

/** A time range of whole buckets from ?from and ?to, each Unix seconds or ISO 8601 UTC. */
function rangeOf(query: { from?: string; to?: string }, bucketSeconds: number): BucketRange {
  const seconds = (name: 'from' | 'to'): number => {
    const text = query[name];
    if (text === undefined)
      throw badParameter(name, `give both from and to (Unix seconds or ISO 8601 UTC, aligned to the ${formatSeconds(bucketSeconds)} buckets)`);
    const value = parseTimeSeconds(text);
    if (value === undefined) throw badParameter(name, `expected Unix seconds or an ISO 8601 UTC time like 2026-12-07T10:00:00Z, got ${JSON.stringify(text)}`);
    return value;
  };
  const from = seconds('from');
  const to = seconds('to');
  try {
    return bucketRange(from, to, bucketSeconds);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw badParameter(error.message.startsWith('to=') ? 'to' : 'from', error.message);
  }
}

/** ?step as whole buckets: a duration that is a multiple of the bucket size, giving at most MAX_SERIES_POINTS points. */
function stepOf(text: string | undefined, range: BucketRange, bucketSeconds: number): number {
  if (text === undefined) return 1;
  const ms = parseDurationMs(text);
  const size = formatSeconds(bucketSeconds);
  if (ms === undefined || ms % (bucketSeconds * 1000) !== 0 || ms === 0)
    throw badParameter('step', `expected a multiple of the ${size} buckets like ${size}, got ${JSON.stringify(text)}`);
  const step = ms / 1000 / bucketSeconds;
  const points = Math.ceil((range.end - range.first) / step);
  if (points > MAX_SERIES_POINTS)
    throw badParameter('step', `the range would have ${points} points, at most ${MAX_SERIES_POINTS}: take a longer step or a shorter range`);
  return step;
}

const rangeBody = (range: BucketRange, bucketSeconds: number): { from: number; to: number; bucket_seconds: number } => ({
  from: range.first * bucketSeconds,
  to: range.end * bucketSeconds,
  bucket_seconds: bucketSeconds,
});

function pointsBody(points: readonly RangeTotals[], range: BucketRange, step: number, bucketSeconds: number): Record<string, unknown>[] {
  return points.map((point, i) => ({
    start: (range.first + i * step) * bucketSeconds,
    purchase_count: point.count,
    purchase_amount: formatCents(point.cents),
  }));
}

/** Builds the app (not listening): `inject` for tests, `listen` for the service. Time is the clock's, the heartbeat's too. */
export function buildHttpApp(serving: ServingReads, clock: Clock): FastifyInstance {
  const metrics = servingMetrics(serving, clock);
  const app = Fastify({
    logger: false,
    // An unknown parameter is refused (a typo like ?limit=5 must not answer as if it were absent), not dropped.
    ajv: { customOptions: { removeAdditional: false } },
    // No router limit of its own: the HTTP parser already bounds a URL (maxHeaderSize), and past a router limit a long
    // id got fastify's generic 400, which named no parameter and echoed the whole URL back. checkUserId decides.
    routerOptions: { maxParamLength: maxHeaderSize },
    connectionTimeout: 30_000,
    requestTimeout: 10_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: true,
    // Checked in onRequest instead, so that the answer is JSON like every other (Node's own 400 has no body).
    http: { requireHostHeader: false },
    clientErrorHandler: (error, socket) =>
      answerUnparsed(
        socket,
        error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400,
        `bad request: ${error.message}`,
        version(),
      ),
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).code(400).send({ error: `bad request: ${error.message}`, version: serving.current?.version ?? null });
    },
  });

  // CONNECT never reaches a route (Node hands the socket over); without this, the connection was dropped unanswered.
  app.server.on('connect', (_request: IncomingMessage, socket: Duplex) =>
    answerUnparsed(socket, 405, 'method CONNECT not allowed', version(), 'Allow: GET, HEAD\r\n'),
  );

  // Response schemas document the answers (/openapi.json) without serializing them: JSON.stringify as without a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  void app.register(fastifySwagger, { openapi: { openapi: '3.1.0', info: { title: 'lambdaflow serving API', version: '1' } } });

  function version(): number | null {
    return serving.current?.version ?? null;
  }

  app.setErrorHandler((error: FastifyError | HttpError, _request, reply) => {
    if (error instanceof HttpError) return reply.code(error.statusCode).send({ error: error.message, ...error.extra, version: version() });
    if (error.validation) {
      const v = error.validation[0]!;
      const params = v.params as { missingProperty?: string; additionalProperty?: string };
      if (v.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
        const known = Object.keys(queryPropertiesOf(_request)).join(', ');
        return reply.code(400).send({
          error: `unknown parameter ${params.additionalProperty} (${_request.routeOptions.url} takes ${known})`,
          parameter: params.additionalProperty,
          version: version(),
        });
      }
      const name = v.instancePath.replace(/^\//, '').split('/')[0] || String(params.missingProperty ?? 'request');
      return reply.code(400).send({ error: `bad parameter ${name}: ${v.message ?? 'invalid'}`, parameter: name, version: version() });
    }
    if (error.statusCode && error.statusCode < 500) return reply.code(error.statusCode).send({ error: error.message, version: version() });
    if (error instanceof LambdaflowError && error.code === 'E_STATE')
      return reply.code(503).header('Retry-After', '1').send({ error: error.message, version: version() });
    return reply.code(500).send({ error: 'internal error', version: version() });
  });

  // The method alone decides, before the body is read: fastify parses a body before routing it to the not-found
  // handler, so a broken, empty or huge body used to turn this 405 into a 400 or 413 (after reading up to 1 MiB).
  app.addHook('onRequest', (request, reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      void reply.code(400).send({ error: 'bad request: an HTTP/1.1 request needs a Host header', version: version() });
      return;
    }
    if (request.method === 'GET' || request.method === 'HEAD') return done();
    void reply
      .code(405)
      .header('Allow', 'GET, HEAD')
      .send({ error: `method ${request.method} not allowed`, version: version() });
  });

  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.url.split('?')[0]}`, version: version() }));

  app.addHook('onResponse', (request, reply, done) => {
    metrics.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  /** Reads need a loaded view at least as new as ?min_version. */
  const current = (request: FastifyRequest): SnapshotStatus => {
    const status = serving.current;
    if (!serving.isReady || !status) throw new HttpError(503, 'the serving layer has not loaded a consistent view yet', { retry: true });
    const min = (request.query as { min_version?: number }).min_version;
    if (min !== undefined && status.version < min)
      throw new HttpError(503, `version ${min} is not served yet (serving ${status.version})`, { min_version: min });
    return status;
  };
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (reply.statusCode === 503 || reply.statusCode === 429) void reply.header('Retry-After', '1');
    done(null, payload);
  });

  // Integers are plain decimal digits: the validator's coercion would take Infinity, 0x10, 0b11 or 1e2 as numbers.
  app.addHook('preValidation', (request, _reply, done) => {
    const query = request.query as Record<string, unknown>;
    for (const [name, schema] of Object.entries(queryPropertiesOf(request))) {
      const value = query[name];
      if (value === undefined || (schema as { type?: unknown }).type !== 'integer') continue;
      if (Array.isArray(value)) return done(badParameter(name, 'given more than once'));
      if (typeof value !== 'string' || !DECIMAL.test(value))
        return done(badParameter(name, `must be a whole number in plain decimal digits (at most ${DECIMAL_DIGITS}), got ${JSON.stringify(value)}`));
    }
    done();
  });

  // Each route once the swagger plugin has loaded, so that its onRoute hook sees them all for /openapi.json.
  const get = (url: string, querystring: Record<string, unknown>, handler: (request: FastifyRequest, reply: FastifyReply) => unknown): void => {
    app.after(() =>
      app.route({
        method: ['GET', 'HEAD'],
        url,
        schema: {
          ...paramsSchema(url),
          querystring: { type: 'object', properties: { min_version: minVersionSchema, ...querystring }, additionalProperties: false },
          response: RESPONSE_SCHEMAS[url],
        },
        handler: async (request, reply) => handler(request, reply),
      }),
    );
  };

  const viewCsvLimit = new ConcurrencyLimit(VIEW_CSV_CONCURRENCY);
  const rangeTopLimit = new ConcurrencyLimit(RANGE_TOP_CONCURRENCY);
  /** A slot of `limit`, or a 429 naming what is busy. */
  const slotOf = (limit: ConcurrencyLimit, what: string): (() => void) => {
    const release = limit.tryAcquire();
    if (!release) throw new HttpError(429, `${limit.limit} ${what} are being answered already: try again in a second`, { retry: true });
    return release;
  };

  /** The current version when it can answer over a range of time; 409 saying why not otherwise. */
  const rangeCurrent = (request: FastifyRequest): SnapshotStatus => {
    const status = current(request);
    const refusal = serving.ranges.refusal();
    if (refusal !== undefined) throw new HttpError(409, `ranges of time cannot be answered: ${refusal}`);
    return status;
  };

  get('/users/:id', rangeSchema, (request, reply) => {
    const { id } = request.params as { id: string };
    const query = request.query as { from?: string; to?: string };
    checkUserId(id, 'id');
    const ranged = query.from !== undefined || query.to !== undefined;
    const range = ranged ? rangeOf(query, serving.bucketSeconds) : undefined;
    const status = range ? rangeCurrent(request) : current(request);
    const user = serving.get(id);
    // Looked up first: a precondition applies only to what would be a 2xx (RFC 9110 §13.2.1), so an absent user is
    // a 404 whatever If-None-Match says (it used to be a 304 when the ETag matched the version).
    if (!user) return reply.code(404).send({ error: `user ${id} is not in the view`, version: status.version });
    const etag = `W/"v${status.version}${range ? `-${range.first}-${range.end}` : ''}"`;
    void reply.header('ETag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    if (!range) return { ...userBody(user), version: status.version, event_time: eventTimeBody(status) };
    const totals = serving.ranges.user(id, range);
    return { ...userBody({ userId: id, ...totals }), ...rangeBody(range, serving.bucketSeconds), version: status.version, event_time: eventTimeBody(status) };
  });

  get('/users/:id/series', { ...rangeSchema, step: timeSchema }, (request, reply) => {
    const { id } = request.params as { id: string };
    const query = request.query as { from?: string; to?: string; step?: string };
    checkUserId(id, 'id');
    const range = rangeOf(query, serving.bucketSeconds);
    const step = stepOf(query.step, range, serving.bucketSeconds);
    const status = rangeCurrent(request);
    if (!serving.get(id)) return reply.code(404).send({ error: `user ${id} is not in the view`, version: status.version });
    const points = pointsBody(serving.ranges.userPoints(id, range, step), range, step, serving.bucketSeconds);
    return {
      user_id: id,
      ...rangeBody(range, serving.bucketSeconds),
      step: step * serving.bucketSeconds,
      points,
      version: status.version,
      event_time: eventTimeBody(status),
    };
  });

  get('/series', { ...rangeSchema, step: timeSchema }, (request) => {
    const query = request.query as { from?: string; to?: string; step?: string };
    const range = rangeOf(query, serving.bucketSeconds);
    const step = stepOf(query.step, range, serving.bucketSeconds);
    const status = rangeCurrent(request);
    const points = pointsBody(serving.ranges.points(range, step), range, step, serving.bucketSeconds);
    return {
      ...rangeBody(range, serving.bucketSeconds),
      step: step * serving.bucketSeconds,
      points,
      version: status.version,
      event_time: eventTimeBody(status),
    };
  });

  get('/users', { id: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: MAX_IDS_PER_REQUEST } }, (request) => {
    const { id } = request.query as { id?: string[] };
    if (id === undefined) throw badParameter('id', `give 1 to ${MAX_IDS_PER_REQUEST} ids as ?id=a&id=b`);
    id.forEach((one) => checkUserId(one, 'id'));
    const status = current(request);
    const users = id.flatMap((one) => {
      const user = serving.get(one);
      return user ? [userBody(user)] : [];
    });
    return { version: status.version, users, event_time: eventTimeBody(status) };
  });

  get(
    '/top',
    { by: { type: 'string', enum: ['amount', 'count'], default: 'amount' }, n: { type: 'integer', minimum: 1, maximum: TOP_MAX, default: 10 }, ...rangeSchema },
    async (request) => {
      const query = request.query as { by: 'amount' | 'count'; n: number; from?: string; to?: string };
      const { by, n } = query;
      if (query.from === undefined && query.to === undefined) {
        const status = current(request);
        return { version: status.version, by, users: serving.top(by, n).map(userBody), event_time: eventTimeBody(status) };
      }
      const range = rangeOf(query, serving.bucketSeconds);
      rangeCurrent(request);
      const release = slotOf(rangeTopLimit, 'top-N queries over a range');
      // Computed in steps (lookups go on meanwhile) from one version, which the answer names.
      const { status, users } = await serving.ranges.top(by, range, (request.query as { min_version?: number }).min_version).finally(release);
      return {
        version: status.version,
        by,
        ...rangeBody(range, serving.bucketSeconds),
        users: users.slice(0, n).map(userBody),
        event_time: eventTimeBody(status),
      };
    },
  );

  get('/view.csv', {}, async (request, reply) => {
    current(request);
    // Held until the answer is sent or its connection goes away (a reader that stops reading holds it until then).
    const release = slotOf(viewCsvLimit, 'downloads of /view.csv');
    reply.raw.once('close', release);
    const { status, file } = await serving.csv().catch((error: unknown) => {
      release();
      throw error;
    });
    void reply.header('Content-Type', 'text/csv; charset=utf-8').header('X-View-Version', String(status.version)).header('Content-Length', String(file.size));
    // The file is streamed from disk, never held whole; the stream holds it until it closes. A HEAD response has no
    // body, so a stream would never be read.
    const body = request.method === 'HEAD' ? undefined : file.stream();
    await file.release();
    return reply.send(body);
  });

  get('/status', {}, (request) => statusBody(serving, current(request), clock.now()));

  get('/healthz', {}, () => ({ ok: true, version: version() }));

  get('/readyz', {}, (_request, reply) =>
    serving.isReady ? { ready: true, version: version() } : reply.code(503).send({ ready: false, error: 'no consistent view loaded yet', version: null }),
  );

  get('/metrics', {}, async (_request, reply) => reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics()));

  get('/openapi.json', {}, () => app.swagger());

  get('/', {}, (_request, reply) => reply.header('Content-Type', 'text/html; charset=utf-8').send(LIVE_PAGE));

  get('/events', {}, (request, reply) => {
    const status = current(request);
    // A HEAD response has no body, so Node holds back the head of a stream until it ends: it used to send nothing
    // while keeping the connection and a subscription. The head alone, then done.
    if (request.method === 'HEAD') {
      void reply.header('Content-Type', 'text/event-stream').header('Cache-Control', 'no-cache').send();
      return;
    }
    reply.hijack();
    const res = reply.raw;
    request.raw.socket.setTimeout(0);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const send = (s: SnapshotStatus): void => {
      if (res.writableLength > MAX_SSE_BACKLOG_BYTES) {
        res.destroy();
        return;
      }
      res.write(`id: ${s.version}\nevent: version\ndata: ${JSON.stringify(statusBody(serving, s, clock.now()))}\n\n`);
    };
    send(status);
    const unsubscribe = serving.onVersion(send);
    const ended = new AbortController();
    void heartbeat(clock, ended.signal, () => res.write(': keep-alive\n\n'));
    const end = (): void => {
      ended.abort();
      unsubscribe();
    };
    res.on('close', end);
    res.on('error', end);
  });

  return app;
}

/** Calls `beat` every SSE_HEARTBEAT_MS of the clock's time until the signal aborts (one timer while it waits). */
async function heartbeat(clock: Clock, signal: AbortSignal, beat: () => void): Promise<void> {
  for (;;) {
    await clock.sleep(SSE_HEARTBEAT_MS, signal);
    if (signal.aborted) return;
    beat();
  }
}

/** Starts listening; a port in use (or any listen failure) is E_NETWORK naming the address. Returns the URL. */
export async function listen(app: FastifyInstance, config: HttpConfig): Promise<string> {
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'the port is in use' : (error as Error).message;
    throw new LambdaflowError('E_NETWORK', `cannot listen on ${config.host}:${config.port}: ${reason}`, {}, { cause: error });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}
