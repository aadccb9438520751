// Child-process entry point of the HTTP load client (src/bench/http-load.ts): runs what its parent asks, answers
// with the latencies, and exits when the parent goes away.

import type { LoadClientMessage, LoadRequest } from '../src/bench/http-load.js';
import { runLoad } from '../src/bench/http-load.js';

let stop: () => void = () => {};

function start(request: LoadRequest): void {
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  runLoad(request, stopped).then(
    (result) => process.send!(result),
    (error: unknown) => {
      process.stderr.write(`http-load-client: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}

process.on('message', (message: LoadClientMessage) => (message.type === 'run' ? start(message) : stop()));
process.on('disconnect', () => process.exit(0));
