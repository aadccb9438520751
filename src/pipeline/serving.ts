// The serving layer as a running service: the store kept current, merged_view.csv on its cadence, and (unless
// turned off) the HTTP API; used by `serve` (on its service thread), `merge` and `all`.

import { writeFileAtomically } from '../io/files/atomic.js';
import { dataLayout } from '../io/files/layout.js';
import { createLogger } from '../io/runtime/logger.js';
import { type Handler, NO_RESULT } from '../io/threads/thread-rpc.js';
import { type HttpConfig, buildHttpApp, listen } from '../serving/http.js';
import { type ServingConfig, ServingLayer } from '../serving/serving-layer.js';
import { type SnapshotStatus } from '../serving/current-version.js';
import { type MergeViewKind } from '../serving/view-kind.js';
import { type GlobalConfig } from './context.js';
import { type LayerEnvironment, layerEnvironment } from './layer-config.js';

export interface ServeOptions {
  readonly view: MergeViewKind;
  /** merged_view.csv every this often. */
  readonly intervalMs: number;
  /** Undefined: no HTTP. */
  readonly http: HttpConfig | undefined;
}

/** New realtime state is looked for this often when no file-system event says so sooner. */
export const SERVING_POLL_MS = 20;

export interface ServingHooks {
  /** Once the HTTP API listens, with its address. */
  readonly onListening?: (url: string) => void;
  readonly onCsvWritten?: ServingConfig['onCsvWritten'];
}

export interface OpenServing {
  readonly layer: ServingLayer;
  /** Starts the HTTP API (when configured): a port in use fails here, before anything else starts. */
  listen(): Promise<void>;
  /** Runs the serving layer (listening first if `listen` was not called) until the signal aborts. */
  serve(signal: AbortSignal): Promise<void>;
}

/** Opens the serving layer; `serve(signal)` then runs it, and the HTTP API, until the signal aborts. */
export function openServing(environment: LayerEnvironment, options: ServeOptions, hooks: ServingHooks = {}): OpenServing {
  const layer = ServingLayer.open({
    layout: environment.layout,
    logger: environment.logger,
    clock: environment.clock,
    view: options.view,
    bucketSeconds: environment.bucketSeconds,
    csvIntervalMs: options.intervalMs,
    pollMs: SERVING_POLL_MS,
    onCsvWritten: hooks.onCsvWritten,
  });
  const app = options.http ? buildHttpApp(layer, environment.clock) : undefined;
  let listening: Promise<void> | undefined;
  const listenOnce = (): Promise<void> =>
    (listening ??= (async () => {
      if (!app || !options.http) return;
      try {
        hooks.onListening?.(await listen(app, options.http));
      } catch (error) {
        await layer.close();
        throw error;
      }
    })());
  return {
    layer,
    listen: listenOnce,
    async serve(signal) {
      await listenOnce();
      try {
        await layer.run(signal);
      } finally {
        await app?.close();
      }
    },
  };
}

/** `merge --once`: one consistent merged_view.csv from the files, then done. */
export async function mergeOnce(environment: LayerEnvironment, view: MergeViewKind, buckets = false): Promise<SnapshotStatus> {
  const { layer } = openServing(environment, { view, intervalMs: 0, http: undefined });
  const status = await layer.once();
  if (buckets) await writeFileAtomically(environment.layout.mergedBuckets, layer.store.ranges.bucketsCsv());
  return status;
}

/** What `serve`'s service thread starts with (its workerData). */
export interface ServiceStart {
  readonly global: GlobalConfig;
  readonly options: ServeOptions;
}

/**
 * What the main thread asks it (src/io/threads/thread-rpc.ts): to listen, answered with the HTTP API's address (null without
 * one), then to serve, answered once the request is cancelled and the service has stopped.
 */
export type ServiceRequest = { readonly type: 'listen' } | { readonly type: 'serve' };

/** The service thread's side of `serve` (src/pipeline/serve-thread.ts), answering ServiceRequests. */
export function serviceThreadHandler(start: ServiceStart): Handler<ServiceRequest> {
  const { global, options } = start;
  let url: string | null = null;
  let serving: Promise<OpenServing> | undefined;
  // Opened by the first request, so that its errors reach the main thread as that request's, with their codes.
  const opened = (): Promise<OpenServing> =>
    (serving ??= layerEnvironment({ global, layout: dataLayout(global.data), logger: createLogger(global.logLevel) }).then((environment) =>
      openServing(environment, options, { onListening: (address) => (url = address) }),
    ));
  return async (request, signal) => {
    if (request.type === 'listen') {
      await (await opened()).listen();
      return { result: url };
    }
    await (await opened()).serve(signal);
    return NO_RESULT;
  };
}
