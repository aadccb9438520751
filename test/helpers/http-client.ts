// Talking to the serving layer's HTTP API in tests: requests with a deadline, raw bytes on a fresh TCP connection
// (for requests no well-behaved client would send), and a Server-Sent Events reader for /events.
//
// Every call has a deadline, so a service that stops answering fails the test instead of stalling the suite.

import http from 'node:http';
import net from 'node:net';
import { type Totals } from './outputs.js';
import { formatReferenceCents } from './reference.js';

/** A user as the API must show it (README / issue contract): counts are numbers, amounts strings with two decimals. */
export interface ApiUser {
  readonly user_id: string;
  readonly purchase_count_total: number;
  readonly purchase_amount_total: string;
}

/** Totals (e.g. an independent recount) as the API must show them, sorted by user id. */
export function apiUsers(totals: Totals): ApiUser[] {
  return [...totals]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([user_id, t]) => ({ user_id, purchase_count_total: t.count, purchase_amount_total: formatReferenceCents(BigInt(t.cents)) }));
}

/** The API's two-decimal amount string in integer cents. */
export function apiCents(amount: string): number {
  const match = /^(-?)(\d+)\.(\d\d)$/.exec(amount);
  if (!match) throw new Error(`amount ${JSON.stringify(amount)} is not a string with exactly two decimals`);
  const cents = Number(match[2]) * 100 + Number(match[3]);
  return match[1] === '-' ? -cents : cents;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** From sending the request to having the whole body. */
  readonly elapsedMs: number;
}

/** The body as JSON (fails with the body when it is not JSON). */
export function jsonOf<T = Record<string, unknown>>(answer: HttpAnswer): T {
  try {
    return JSON.parse(answer.text) as T;
  } catch {
    throw new Error(`HTTP ${answer.status}: the body is not JSON: ${answer.text.slice(0, 500)}`);
  }
}

/** One request with fetch (keep-alive); rejects when no whole answer came within the deadline. */
export async function httpRequest(url: string, init: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const started = performance.now();
  const response = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, elapsedMs: performance.now() - started };
}

export interface RawAnswer {
  /** The status code of the first response, or null when the connection closed (or the deadline passed) without one. */
  readonly status: number | null;
  /** Everything received. */
  readonly text: string;
  /** The deadline passed before a whole response or a close. */
  readonly timedOut: boolean;
}

/**
 * Writes `bytes` on a new connection to the service at `baseUrl` and reads the first response (head plus
 * Content-Length body; the head alone when `bytes` is a HEAD request), then closes. For malformed requests that
 * fetch refuses to send.
 */
export function rawExchange(baseUrl: string, bytes: string | Uint8Array, timeoutMs = 5_000, { untilClose = false } = {}): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  const isHeadRequest = Buffer.from(bytes.slice(0, 5)).toString('latin1') === 'HEAD ';
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    let received = Buffer.alloc(0);
    const finish = (timedOut: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = received.toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : null, text, timedOut });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0 || untilClose) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
      if (isHeadRequest || (length && received.length >= headEnd + 4 + Number(length[1]))) finish(false);
    });
    socket.on('error', () => {}); // a reset is an answer too: `close` follows
    socket.on('close', () => finish(false));
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

export interface ServerSentEvent {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
}

export interface EventStream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The next event (comments such as keep-alives skipped); rejects after the deadline or when the stream ends. */
  next(timeoutMs?: number): Promise<ServerSentEvent>;
  /** Drops the connection. */
  close(): void;
}

/** Opens a Server-Sent Events stream; resolves once the response head arrived. */
export function openEventStream(url: string, timeoutMs = 10_000): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const headTimer = setTimeout(() => request.destroy(new Error(`no response head within ${timeoutMs} ms`)), timeoutMs);
    const request = http.get(url, (response) => {
      clearTimeout(headTimer);
      response.setEncoding('utf8');
      const ready: ServerSentEvent[] = [];
      let waiting: ((event: ServerSentEvent | Error) => void) | undefined;
      let buffer = '';
      let ended = false;
      const deliver = (item: ServerSentEvent | Error): void => {
        if (waiting) {
          const wake = waiting;
          waiting = undefined;
          wake(item);
        } else if (!(item instanceof Error)) ready.push(item);
      };
      response.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
          }
          if (fields.has('data')) deliver({ id: fields.get('id'), event: fields.get('event'), data: fields.get('data')! });
        }
      });
      const onEnd = (): void => {
        ended = true;
        deliver(new Error('the event stream ended'));
      };
      response.on('end', onEnd);
      response.on('close', onEnd);
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        next(waitMs = 10_000) {
          const first = ready.shift();
          if (first) return Promise.resolve(first);
          if (ended) return Promise.reject(new Error('the event stream ended'));
          return new Promise((resolveEvent, rejectEvent) => {
            const timer = setTimeout(() => {
              waiting = undefined;
              rejectEvent(new Error(`no event within ${waitMs} ms`));
            }, waitMs);
            waiting = (item) => {
              clearTimeout(timer);
              if (item instanceof Error) rejectEvent(item);
              else resolveEvent(item);
            };
          });
        },
        close: () => request.destroy(),
      });
    });
    request.on('error', (error) => {
      clearTimeout(headTimer);
      reject(error);
    });
  });
}
