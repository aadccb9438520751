// Child-process entry point of the baseline: a bare node:http server answering every request with one fixed body.

import http from 'node:http';
import type { BareServerListening, BareServerRequest } from '../src/bench/http-load.js';

process.once('message', ({ body, headers }: BareServerRequest) => {
  const bytes = Buffer.from(body);
  const head = { ...headers, 'content-length': String(bytes.length) };
  const server = http.createServer((_request, response) => {
    response.writeHead(200, head);
    response.end(bytes);
  });
  server.listen(0, '127.0.0.1', () => {
    const listening: BareServerListening = { type: 'listening', port: (server.address() as { port: number }).port };
    process.send!(listening);
  });
});
process.on('disconnect', () => process.exit(0));
