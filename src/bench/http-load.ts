// An HTTP load client (keep-alive node:http, N requests in flight or one at a fixed rate) recording every latency,
// and the messages a benchmark exchanges with it and with the bare baseline server, each in its own process.

import http from 'node:http';
import { LambdaflowError } from '../core/errors.js';
import { type Distribution, distribution } from './report.js';

/**
 * `closed-loop`: `connections` requests always in flight (each connection sends its next request when its answer
 * is in), for `warmupMs` unrecorded and then `durationMs` recorded. `fixed-rate`: one connection, a request every
 * 1/`ratePerSecond` s (the next at once when an answer comes late), recorded from the start until a `stop` message.
 */
export type LoadRun =
  | { readonly kind: 'closed-loop'; readonly connections: number; readonly warmupMs: number; readonly durationMs: number }
  | { readonly kind: 'fixed-rate'; readonly ratePerSecond: number };

export interface LoadRequest {
  readonly type: 'run';
  /** `http://host:port`, no trailing slash. */
  readonly origin: string;
  /** Each request takes one of these at random (already percent-encoded). */
  readonly paths: readonly string[];
  readonly run: LoadRun;
}

/** Ends a fixed-rate run: the client answers with its result. */
export interface LoadStop {
  readonly type: 'stop';
}

export type LoadClientMessage = LoadRequest | LoadStop;

export interface LoadResult {
  readonly type: 'result';
  /** Recorded requests (answered with 200): their latency, in ms. */
  readonly latenciesMs: Float64Array;
  /** When each recorded request was sent (epochMs). */
  readonly sentAtMs: Float64Array;
  /** From the first recorded request sent to the last answer received. */
  readonly elapsedMs: number;
  /** Answers other than 200 and failed requests; a benchmark reports nothing when there is one. */
  readonly errors: number;
  readonly firstError: string | null;
}

/** The bare baseline server's one message: answer every request with this body and these headers. */
export interface BareServerRequest {
  readonly type: 'serve';
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface BareServerListening {
  readonly type: 'listening';
  readonly port: number;
}

export interface LatencySummary extends Distribution {
  readonly requestsPerSecond: number;
}

/** Latencies pooled over runs, and requests/s over their summed recorded time. */
export function summarizeLatencies(runs: readonly Pick<LoadResult, 'latenciesMs' | 'elapsedMs'>[]): LatencySummary {
  const all: number[] = runs.flatMap((r) => Array.from(r.latenciesMs));
  if (all.length === 0) throw new LambdaflowError('E_STATE', 'no request was answered');
  const elapsedMs = runs.reduce((n, r) => n + r.elapsedMs, 0);
  return { ...distribution(all), requestsPerSecond: (all.length * 1000) / elapsedMs };
}

/** Milliseconds since the epoch with sub-millisecond resolution: timestamps compared across processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** Appends to a Float64Array, doubling it when full. */
class Samples {
  private values = new Float64Array(1 << 16);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = value;
  }

  toArray(): Float64Array {
    return this.values.slice(0, this.length);
  }
}

/** One GET on a keep-alive agent; resolves with its status once the whole answer is read. */
function get(agent: http.Agent, url: URL, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, path, agent, method: 'GET' }, (response) => {
      response.on('error', reject);
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.resume();
    });
    request.on('error', reject);
    request.end();
  });
}

/** Runs one load run; a fixed-rate run goes on until `stopped` resolves. */
export async function runLoad(request: LoadRequest, stopped: Promise<void>): Promise<LoadResult> {
  const { run, paths } = request;
  if (paths.length === 0) throw new LambdaflowError('E_STATE', 'a load run needs at least one path');
  const url = new URL(request.origin);
  const connections = run.kind === 'closed-loop' ? run.connections : 1;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies = new Samples();
  const sentAt = new Samples();
  let errors = 0;
  let firstError: string | null = null;
  let firstSentMs = Infinity;
  let lastAnsweredMs = 0;

  /** One request; recorded when `record` (a request that fails or is not a 200 is always counted as an error). */
  const one = async (record: boolean): Promise<void> => {
    const path = paths[Math.floor(Math.random() * paths.length)]!;
    const sentMs = epochMs();
    let status: number;
    try {
      status = await get(agent, url, path);
    } catch (error) {
      errors++;
      firstError ??= `GET ${path}: ${(error as Error).message}`;
      return;
    }
    const answeredMs = epochMs();
    if (status !== 200) {
      errors++;
      firstError ??= `GET ${path}: status ${status}`;
      return;
    }
    if (!record) return;
    latencies.push(answeredMs - sentMs);
    sentAt.push(sentMs);
    firstSentMs = Math.min(firstSentMs, sentMs);
    lastAnsweredMs = Math.max(lastAnsweredMs, answeredMs);
  };

  try {
    if (run.kind === 'closed-loop') {
      const recordFromMs = epochMs() + run.warmupMs;
      const endMs = recordFromMs + run.durationMs;
      const connection = async (): Promise<void> => {
        for (let now = epochMs(); now < endMs; now = epochMs()) await one(now >= recordFromMs);
      };
      await Promise.all(Array.from({ length: connections }, connection));
    } else {
      let stop = false;
      void stopped.then(() => (stop = true));
      const periodMs = 1000 / run.ratePerSecond;
      // After a late answer the next request goes at once, then the period again: no burst catching up.
      for (let nextMs = epochMs(); !stop; nextMs = Math.max(nextMs + periodMs, epochMs())) {
        const waitMs = nextMs - epochMs();
        if (waitMs > 0) await Promise.race([new Promise((resolve) => setTimeout(resolve, waitMs)), stopped]);
        if (!stop) await one(true);
      }
    }
  } finally {
    agent.destroy();
  }
  return {
    type: 'result',
    latenciesMs: latencies.toArray(),
    sentAtMs: sentAt.toArray(),
    elapsedMs: Math.max(0, lastAnsweredMs - firstSentMs),
    errors,
    firstError,
  };
}
