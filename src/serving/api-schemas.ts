// The HTTP API's answers as JSON Schema, by route: what /openapi.json publishes and what the tests hold real answers
// to. Documentation, not serialization: http.ts keeps JSON.stringify, so a schema can never change or drop a field.

const integer = { type: 'integer' } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;
/** Money as the API writes it: a string with exactly two decimals (never a float). */
const amount = { type: 'string', pattern: '^-?\\d+\\.\\d\\d$' } as const;
const version = { ...nullableInteger, description: 'The snapshot the answer comes from (null before the first load).' } as const;
const servedVersion = { ...integer, description: 'The snapshot the answer comes from.' } as const;

const eventClock = {
  type: 'object',
  required: ['watermark', 'late_rows'],
  properties: { watermark: { ...nullableInteger, description: 'Event-time watermark, Unix seconds.' }, late_rows: integer },
} as const;
const eventTime = {
  ...eventClock,
  description: 'Event-time watermark and late rows, of the default stream and of each NATS partition stream.',
  properties: { ...eventClock.properties, streams: { type: 'object', additionalProperties: eventClock } },
} as const;

const user = {
  type: 'object',
  required: ['user_id', 'purchase_count_total', 'purchase_amount_total'],
  properties: { user_id: { type: 'string' }, purchase_count_total: integer, purchase_amount_total: amount },
} as const;

const range = {
  from: { ...integer, description: 'Start of the first bucket, Unix seconds.' },
  to: { ...integer, description: 'End of the last bucket (exclusive), Unix seconds.' },
  bucket_seconds: integer,
} as const;
const series = {
  ...range,
  step: { ...integer, description: 'Seconds per point.' },
  points: {
    type: 'array',
    items: {
      type: 'object',
      required: ['start', 'purchase_count', 'purchase_amount'],
      properties: { start: integer, purchase_count: integer, purchase_amount: amount },
    },
  },
} as const;

const error = {
  type: 'object',
  required: ['error', 'version'],
  properties: { error: { type: 'string' }, parameter: { type: 'string', description: 'The parameter that was wrong (400).' }, version },
} as const;
const errors = {
  '4xx': { description: 'A bad request or an absent user, with the reason.', ...error },
  '5xx': { description: 'Not ready (503, Retry-After) or an internal error.', ...error },
} as const;

const json = (description: string, body: Record<string, unknown>): Record<string, unknown> => ({ 200: { description, ...body }, ...errors });
const text = (description: string, contentType: string): Record<string, unknown> => ({
  200: { description, content: { [contentType]: { schema: { type: 'string' } } } },
  ...errors,
});
const object = (required: readonly string[], properties: Record<string, unknown>): Record<string, unknown> => ({ type: 'object', required, properties });

/** The speed window `--view window` serves, as its `_WINDOW.json` says (time null: it has none that can be read). */
const servedWindow = {
  description: 'With --view window: the speed window this version holds.',
  oneOf: [
    object(['name', 'time', 'start', 'end', 'watermark', 'late_rows'], {
      name: { type: 'string' },
      time: { const: 'event' },
      start: { ...integer, description: 'Unix seconds.' },
      end: { ...integer, description: 'Unix seconds, exclusive.' },
      watermark: { ...integer, description: "The stream's event-time watermark when the window was published, Unix seconds." },
      late_rows: { ...integer, description: 'Late rows of the stream when the window was published.' },
    }),
    object(['name', 'time', 'start_ms', 'end_ms'], { name: { type: 'string' }, time: { const: 'processing' }, start_ms: integer, end_ms: integer }),
    object(['name', 'time'], { name: { type: 'string' }, time: { type: 'null' } }),
  ],
} as const;

const status = object(
  [
    'version',
    'batch_view',
    'batch_watermark',
    'through_seq',
    'users',
    'purchase_count_total',
    'purchase_amount_total',
    'built_at',
    'staleness_ms',
    'events_per_second',
    'bad_rows',
    'changed_users',
    'change',
    'event_time',
  ],
  {
    version: servedVersion,
    batch_view: { type: ['string', 'null'], description: 'The batch view served (null: none yet, see notice).' },
    batch_watermark: { ...integer, description: 'S: the last ingest seq the batch view absorbed.' },
    through_seq: { ...integer, description: 'N: the last ingest seq reflected.' },
    users: integer,
    purchase_count_total: integer,
    purchase_amount_total: amount,
    built_at: { type: 'string', format: 'date-time' },
    staleness_ms: { ...nullableInteger, description: 'Time since the newest reflected stream file was ingested.' },
    events_per_second: { ...nullableInteger, description: 'Rows the speed layer read per second, over the 10 s before its newest realtime head.' },
    bad_rows: object(['batch', 'stream'], { batch: integer, stream: integer }),
    changed_users: integer,
    change: { type: 'string', enum: ['load', 'realtime', 'batch'] },
    notice: { type: 'string' },
    event_time: eventTime,
    streams: { type: 'object', additionalProperties: object(['batch_watermark', 'through_seq'], { batch_watermark: integer, through_seq: integer }) },
    window: servedWindow,
  },
);

/** Each route's responses, by its URL as registered. */
export const RESPONSE_SCHEMAS: Readonly<Record<string, Record<string, unknown>>> = {
  '/users/:id': json(
    "A user's totals (over [from, to) when both are given).",
    object(['user_id', 'purchase_count_total', 'purchase_amount_total', 'version', 'event_time'], {
      ...user.properties,
      ...range,
      version: servedVersion,
      event_time: eventTime,
    }),
  ),
  '/users/:id/series': json(
    "A user's totals per step over [from, to).",
    object(['user_id', 'from', 'to', 'bucket_seconds', 'step', 'points', 'version', 'event_time'], {
      user_id: { type: 'string' },
      ...series,
      version: servedVersion,
      event_time: eventTime,
    }),
  ),
  '/series': json(
    "Everyone's totals per step over [from, to).",
    object(['from', 'to', 'bucket_seconds', 'step', 'points', 'version', 'event_time'], { ...series, version: servedVersion, event_time: eventTime }),
  ),
  '/users': json(
    'The users found among the ids asked for.',
    object(['version', 'users', 'event_time'], { version: servedVersion, users: { type: 'array', items: user }, event_time: eventTime }),
  ),
  '/top': json(
    'The top n users by amount or count (over [from, to) when both are given).',
    object(['version', 'by', 'users', 'event_time'], {
      version: servedVersion,
      by: { type: 'string', enum: ['amount', 'count'] },
      ...range,
      users: { type: 'array', items: user },
      event_time: eventTime,
    }),
  ),
  '/view.csv': text('The merged view as CSV (user_id,purchase_count_total,purchase_amount_total); its version in X-View-Version.', 'text/csv'),
  '/status': json('The current version and its totals.', status),
  '/healthz': json('The process is up.', object(['ok', 'version'], { ok: { type: 'boolean' }, version })),
  '/readyz': json('A consistent view is loaded (503 until then).', object(['ready', 'version'], { ready: { type: 'boolean' }, version })),
  '/metrics': text('Prometheus metrics.', 'text/plain'),
  '/': text('The live page.', 'text/html'),
  '/events': text('Server-Sent Events: one `version` event (the /status body) per new version.', 'text/event-stream'),
  '/openapi.json': json('This document (OpenAPI 3.1).', { type: 'object', required: ['openapi', 'paths'] }),
};

/** `{ params }` for a URL's `:name` segments (each a string; handlers check what more they need), `{}` without any. */
export function paramsSchema(url: string): { params?: Record<string, unknown> } {
  const names = [...url.matchAll(/:(\w+)/g)].map((match) => match[1]!);
  return names.length === 0 ? {} : { params: object(names, Object.fromEntries(names.map((name) => [name, { type: 'string' }]))) };
}
