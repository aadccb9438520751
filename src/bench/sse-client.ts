// A minimal server-sent-events client: each `event:`/`data:` message of a stream, with the moment it arrived.

import http from 'node:http';
import { LambdaflowError } from '../core/errors.js';

export interface SseMessage {
  readonly event: string;
  readonly data: string;
  /** performance.timeOrigin + performance.now() when its last byte arrived. */
  readonly receivedAtMs: number;
}

export interface SseSubscription {
  /** Rejects with E_NETWORK when the stream fails or ends before `close`; never resolves. */
  readonly failed: Promise<never>;
  close(): void;
}

/** Opens `url` as an event stream and calls `onMessage` for every message (comments and heartbeats skipped). */
export function subscribe(url: string, onMessage: (message: SseMessage) => void): Promise<SseSubscription> {
  return new Promise((resolve, reject) => {
    let closed = false;
    let fail: (error: Error) => void = () => {};
    const failed = new Promise<never>((_resolve, rejectFailed) => (fail = rejectFailed));
    failed.catch(() => {});
    const request = http.get(url, { headers: { Accept: 'text/event-stream' } }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new LambdaflowError('E_NETWORK', `GET ${url}: status ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      let buffer = '';
      response.on('data', (text: string) => {
        const receivedAtMs = performance.timeOrigin + performance.now();
        buffer += text;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (data.length > 0) onMessage({ event, data: data.join('\n'), receivedAtMs });
        }
      });
      response.on('end', () => closed || fail(new LambdaflowError('E_NETWORK', `the event stream ${url} ended`)));
      response.on('error', (error) => closed || fail(new LambdaflowError('E_NETWORK', `the event stream ${url} failed: ${error.message}`)));
      resolve({
        failed,
        close: () => {
          closed = true;
          request.destroy();
        },
      });
    });
    request.on('error', (error) => {
      if (closed) return;
      const wrapped = new LambdaflowError('E_NETWORK', `GET ${url}: ${error.message}`);
      reject(wrapped);
      fail(wrapped);
    });
  });
}
