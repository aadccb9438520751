// /openapi.json against the routes and the answers: every route fastify registers (enumerated with an onRoute hook,
// so a route added later is caught too) is in the document with its responses, and real answers of each route from
// the built CLI's `serve` on a temp folder (200s and errors) validate against the document's schema for their status.

import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUCKET_SECONDS } from '../../src/core/event-time.js';
import { buildHttpApp } from '../../src/serving/http.js';
import { type ServingReads } from '../../src/serving/serving-reads.js';
import { type RunningCli, listeningUrl, requireBuild, runCliOk, startCli } from '../helpers/cli.js';
import { type HttpAnswer, httpRequest, jsonOf, openEventStream } from '../helpers/http-client.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitUntilReady, writeBatchInputs } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots('file');

const FIRST_SECOND = 1_700_000_000;
const HISTORY = 'user_id,event_type,amount,unix_timestamp\n' + 'alice,purchase,10.50,1700000000\nbob,purchase,3,1700003700\nalice,purchase,-0.25,1700007300\n';
const FROM = FIRST_SECOND - (FIRST_SECOND % DEFAULT_BUCKET_SECONDS);
const TO = FROM + 3 * DEFAULT_BUCKET_SECONDS;

/** Requests that exercise each route, answers good and bad: a route without any fails the test. */
const SAMPLES: Readonly<Record<string, readonly string[]>> = {
  '/users/:id': ['/users/alice', `/users/alice?from=${FROM}&to=${TO}`, '/users/nobody', `/users/alice?from=${FROM}`, '/users/alice?min_version=999999'],
  '/users/:id/series': [
    `/users/alice/series?from=${FROM}&to=${TO}`,
    `/users/alice/series?from=${FROM}&to=${TO}&step=2h`,
    '/users/alice/series',
    `/users/nobody/series?from=${FROM}&to=${TO}`,
  ],
  '/series': [`/series?from=${FROM}&to=${TO}`, `/series?from=${FROM}&to=${TO}&step=1s`],
  '/users': ['/users?id=alice&id=bob&id=nobody', '/users'],
  '/top': ['/top', '/top?by=count&n=1', `/top?from=${FROM}&to=${TO}`, '/top?n=0', '/top?by=name'],
  '/view.csv': ['/view.csv'],
  '/status': ['/status', '/status?what=1'],
  '/healthz': ['/healthz'],
  '/readyz': ['/readyz'],
  '/metrics': ['/metrics'],
  '/openapi.json': ['/openapi.json'],
  '/': ['/'],
  '/events': ['/events'],
};

interface OpenApiResponse {
  readonly content?: Record<string, { schema: Record<string, unknown> }>;
}
interface OpenApiDocument {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, { responses: Record<string, OpenApiResponse> }>>;
}

/** fastify's `/users/:id` as OpenAPI writes it: `/users/{id}`. */
const openApiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}');

/** Where the document says a status's answer is: its own code, else its class (`4XX`). */
function responseOf(doc: OpenApiDocument, url: string, status: number): OpenApiResponse | undefined {
  const responses = doc.paths[openApiPath(url)]?.get?.responses ?? {};
  return responses[String(status)] ?? responses[`${String(status)[0]}XX`];
}

const ajv = new Ajv({ allErrors: true });
// Exactly what Date#toISOString writes, which is all the API ever writes.
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

function expectValid(schema: Record<string, unknown>, body: unknown, what: string): void {
  const validate = ajv.compile(schema);
  expect(validate(body) ? [] : validate.errors, what).toEqual([]);
}

beforeAll(() => requireBuild());

describe('the document', () => {
  it('has every route fastify registers, with a 200 answer and the errors', async () => {
    const stub = { current: null, isReady: false, onVersion: () => () => {} } as unknown as ServingReads;
    const app = buildHttpApp(stub, new ManualClock(0));
    const routes: string[] = [];
    app.addHook('onRoute', (route) => void (route.method.includes('GET') && routes.push(route.url)));
    await app.ready();
    const doc = (await app.inject({ url: '/openapi.json' })).json<OpenApiDocument>();
    await app.close();
    expect(doc.openapi).toBe('3.1.0');
    expect(routes).toContain('/users/:id');
    expect(Object.keys(doc.paths).sort()).toEqual(routes.map(openApiPath).sort());
    for (const url of routes) {
      for (const status of [200, 400, 503]) expect(responseOf(doc, url, status)?.content, `${url} ${status}`).toBeDefined();
    }
    // Each route has sample requests below, so the next test holds its real answers to the document.
    expect(Object.keys(SAMPLES).sort()).toEqual([...routes].sort());
  });
});

describe('real answers of `serve` on a temp folder', () => {
  let serve: RunningCli;
  let url: string;
  let doc: OpenApiDocument;
  beforeAll(async () => {
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': HISTORY });
    await runCliOk(['batch', '--data', data, '--threads', '1', '--log-level', 'warn']);
    serve = startCli(['serve', '--data', data, '--port', '0', '--log-level', 'warn']);
    url = await listeningUrl(serve);
    await waitUntilReady(url);
    doc = jsonOf<OpenApiDocument>(await httpRequest(`${url}/openapi.json`));
  });
  afterAll(() => void (serve?.child.exitCode === null && serve.child.kill('SIGKILL')));

  /** The answer's body against the document's schema for its status and content type. */
  function expectDescribed(route: string, request: string, answer: HttpAnswer): void {
    const what = `${request} → ${answer.status}`;
    const response = responseOf(doc, route, answer.status);
    expect(response?.content, what).toBeDefined();
    const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0]!;
    const schema = response!.content![mediaType]?.schema;
    expect(schema, `${what}: ${mediaType} is not documented`).toBeDefined();
    expectValid(schema!, mediaType === 'application/json' ? jsonOf(answer) : answer.text, what);
  }

  it.each(Object.entries(SAMPLES).filter(([route]) => route !== '/events'))('%s: each answer validates', async (route, requests) => {
    const statuses = new Set<number>();
    for (const request of requests) {
      const answer = await httpRequest(`${url}${request}`);
      statuses.add(answer.status);
      expectDescribed(route, request, answer);
    }
    expect(statuses.has(200), `${route}: no sample answered 200`).toBe(true);
  });

  it('/events: a text/event-stream whose version event is the /status body', async () => {
    const events = await openEventStream(`${url}/events`);
    try {
      expect(events.status).toBe(200);
      expect(responseOf(doc, '/events', 200)?.content?.['text/event-stream']).toBeDefined();
      const event = await events.next();
      expectValid(responseOf(doc, '/status', 200)!.content!['application/json']!.schema, JSON.parse(event.data), 'the version event');
    } finally {
      events.close();
    }
  });
});
