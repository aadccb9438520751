// The serving layer's Prometheus metrics (prom-client): request durations per route, the view's position and
// freshness, the speed layers' sources, and the process's own metrics. Few labels (route, status class, stream), never
// a user id. Names follow Prometheus' rules (`promtool check metrics`): only counters end in `_total`.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type Clock } from '../core/clock.js';
import { type EventTimeHead } from '../core/event-time.js';
import { DEFAULT_STREAM } from '../io/files/layout.js';
import { type WindowInfo } from '../io/views/views.js';
import { type SnapshotStatus } from './current-version.js';
import { type ServingReads } from './serving-reads.js';

export interface ServingMetrics {
  readonly registry: Registry;
  /** Records one answered request. */
  observe(route: string, method: string, statusCode: number, seconds: number): void;
}

export function servingMetrics(serving: ServingReads, clock: Clock): ServingMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lambdaflow_' });
  // prom-client adds gauges named `…_total` beside the same counts by type (prometheus/client_js#283, no option to drop
  // them): a total is sum(lambdaflow_nodejs_active_handles) and so on.
  for (const count of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`lambdaflow_nodejs_active_${count}_total`);
  const duration = new Histogram({
    name: 'lambdaflow_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const status = (): SnapshotStatus | undefined => serving.current;
  const gauge = (name: string, help: string, read: () => number | null | undefined): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const value = read();
        if (value !== null && value !== undefined) this.set(value);
      },
    });
  };
  gauge('lambdaflow_view_version', 'Version of the served snapshot', () => status()?.version);
  gauge('lambdaflow_batch_watermark', 'Last ingest seq the served batch view absorbed', () => status()?.batchWatermark);
  gauge('lambdaflow_ingest_seq', 'Last ingest seq the served snapshot reflects', () => status()?.throughSeq);
  gauge('lambdaflow_view_users', 'Users in the served snapshot', () => status()?.users);
  gauge('lambdaflow_view_purchases', 'Purchases in the served snapshot', () => status()?.purchases);
  gauge('lambdaflow_staleness_seconds', 'Now minus the ingest time of the newest stream file the snapshot reflects', () => {
    const last = status()?.lastIngestedAtMs;
    return last === null || last === undefined ? null : (clock.now() - last) / 1000;
  });
  gauge('lambdaflow_events_ingested', 'Rows the running speed layer has read since it started', () => serving.rowsIngested);
  gauge('lambdaflow_events_per_second', 'Rows the speed layer read per second, recently', () => serving.eventsPerSecond);
  new Gauge({
    name: 'lambdaflow_source_unreadable_seconds',
    help: "Time a stream's speed layer has not been able to read its source (a NATS cluster not answering), 0 while it reads",
    labelNames: ['stream'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [stream, seconds] of serving.sourceUnreadableSeconds) this.set({ stream }, seconds);
    },
  });
  gauge('lambdaflow_ready', '1 once a consistent snapshot is loaded', () => (serving.isReady ? 1 : 0));
  new Counter({
    name: 'lambdaflow_view_exports_total',
    help: 'CSV files of versions written: planned from the last one (costs what changed) or whole (costs every user)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, files] of Object.entries(serving.exportsWritten)) this.inc({ kind }, files);
    },
  });
  // Per stream (the default one, or each NATS partition): its event clock as the served snapshot carries it.
  const eventClocks = (): [string, EventTimeHead][] => {
    const current = status();
    if (!current) return [];
    const clocks: [string, EventTimeHead | null][] = [
      [DEFAULT_STREAM, current.eventTime],
      ...Object.entries(current.streams).map(([s, p]): [string, EventTimeHead | null] => [s, p.eventTime]),
    ];
    return clocks.filter((entry): entry is [string, EventTimeHead] => entry[1] !== null);
  };
  new Counter({
    name: 'lambdaflow_late_rows_total',
    help: "Rows that arrived behind their stream's event-time watermark (counted in totals, set aside in late/), by stream",
    labelNames: ['stream'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [stream, clock] of eventClocks()) this.inc({ stream }, clock.lateRows);
    },
  });
  new Gauge({
    name: 'lambdaflow_event_time_watermark_seconds',
    help: 'The event-time watermark of each stream (Unix seconds): its largest event second less the allowed lateness',
    labelNames: ['stream'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [stream, clock] of eventClocks()) if (clock.watermark !== null) this.set({ stream }, clock.watermark);
    },
  });
  // The window view: the speed window served, its bounds in seconds (a processing-time window's from its ms), by time kind.
  const windowGauge = (name: string, help: string, read: (info: WindowInfo) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['time'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const info = status()?.window?.info;
        const value = info && read(info);
        if (info && value !== undefined) this.set({ time: info.time }, value);
      },
    });
  };
  windowGauge('lambdaflow_window_start_seconds', 'Start of the speed window served (--view window), Unix seconds', (w) =>
    w.time === 'event' ? w.start : w.startMs / 1000,
  );
  windowGauge('lambdaflow_window_end_seconds', 'End (exclusive) of the speed window served (--view window), Unix seconds', (w) =>
    w.time === 'event' ? w.end : w.endMs / 1000,
  );
  windowGauge('lambdaflow_window_watermark_seconds', 'Event-time watermark when the event-time window served was published, Unix seconds', (w) =>
    w.time === 'event' ? w.watermark : undefined,
  );
  windowGauge('lambdaflow_window_late_rows', 'Late rows of the stream when the event-time window served was published (they never enter it)', (w) =>
    w.time === 'event' ? w.lateRows : undefined,
  );
  return {
    registry,
    observe(route, method, statusCode, seconds) {
      duration.observe({ route, method, status_class: `${Math.floor(statusCode / 100)}xx` }, seconds);
    },
  };
}
