// The serving layer as a running service: the store kept current, merged_view.csv on its cadence, and (unless
// turned off) the HTTP API; used by `serve`, `merge` and `all`.

import { type HttpConfig, buildHttpApp, listen } from '../serving/http.js';
import { type ServingConfig, ServingLayer } from '../serving/serving-layer.js';
import { type SnapshotStatus } from '../serving/store.js';
import { type MergeViewKind } from '../serving/view-kind.js';
import { type LayerEnvironment } from './layer-config.js';

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

/** Opens the serving layer; `serve(signal)` then runs it (and the HTTP API) until the signal aborts. */
export function openServing(environment: LayerEnvironment, options: ServeOptions, hooks: ServingHooks = {}): { layer: ServingLayer; serve: (signal: AbortSignal) => Promise<void> } {
  const layer = ServingLayer.open({
    layout: environment.layout,
    logger: environment.logger,
    clock: environment.clock,
    view: options.view,
    csvIntervalMs: options.intervalMs,
    pollMs: SERVING_POLL_MS,
    onCsvWritten: hooks.onCsvWritten,
  });
  const serve = async (signal: AbortSignal): Promise<void> => {
    const app = options.http ? buildHttpApp(layer, () => environment.clock.now()) : undefined;
    try {
      if (app && options.http) hooks.onListening?.(await listen(app, options.http));
    } catch (error) {
      await layer.close();
      throw error;
    }
    try {
      await layer.run(signal);
    } finally {
      await app?.close();
    }
  };
  return { layer, serve };
}

/** `merge --once`: one consistent merged_view.csv from the files, then done. */
export function mergeOnce(environment: LayerEnvironment, view: MergeViewKind): Promise<SnapshotStatus> {
  return openServing(environment, { view, intervalMs: 0, http: undefined }).layer.once();
}
