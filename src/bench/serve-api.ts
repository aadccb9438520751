// serve's HTTP answers as a benchmark reads them: one-off GETs (timed) and the bodies of /status and /users/:id.

import http from 'node:http';
import { LambdaflowError } from '../core/errors.js';
import { epochMs } from './http-load.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly receivedAtMs: number;
}

/** One GET on `agent`; `receivedAtMs` (see epochMs) is when the whole answer was in. */
export function getText(url: string, agent: http.Agent): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (text: string) => (body += text));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body, receivedAtMs: epochMs() }));
        response.on('error', reject);
      })
      .on('error', (error) => reject(new LambdaflowError('E_NETWORK', `GET ${url}: ${error.message}`, {}, { cause: error })));
  });
}

/** A 200 answer's JSON body; any other status is E_STATE. */
export async function getJson<T>(url: string, agent: http.Agent): Promise<T> {
  const answer = await getText(url, agent);
  if (answer.status !== 200) throw new LambdaflowError('E_STATE', `GET ${url}: status ${answer.status}: ${answer.body.slice(0, 200)}`);
  return JSON.parse(answer.body) as T;
}

/** /status and each /events message (the fields a benchmark reads). */
export interface StatusBody {
  readonly version: number;
  readonly batch_view: string | null;
  readonly through_seq: number;
  readonly users: number;
  readonly purchase_count_total: number;
  readonly change: 'load' | 'realtime' | 'batch';
}

export interface UserBody {
  readonly user_id: string;
  readonly purchase_count_total: number;
  readonly purchase_amount_total: string;
  readonly version: number;
}

export const userPath = (userId: string): string => `/users/${encodeURIComponent(userId)}`;
