// merged_view.csv and /view.csv at run time: each version's CSV is a file. The next version's file is planned on the
// serving thread from the last one's layout, in steps between lookups (only the users that changed are formatted; the
// rest is copied from the last file on disk); a version with a new batch view or overlay table is written whole, in
// steps too. Each export freezes the version it writes through the store's change log, and moves the last layout on
// only once the planned file is written (src/serving/export.ts). No version's bytes are held in memory, and the store
// has no replica.

import { LambdaflowError } from '../core/errors.js';
import { hiddenTempPath } from '../io/files/atomic.js';
import { ExportFile, SplicePieces, removeStaleExports } from '../io/files/export-file.js';
import { runInSteps } from '../io/runtime/steps.js';
import { type SnapshotStatus } from './current-version.js';
import { type ExportLayout, type FrozenVersion, freezeVersion, moveLayout, planExport, wholeExport } from './export.js';
import { type ServingStore } from './store.js';

/** A file of one version, held by the caller: release it when done. */
export interface ExportedVersion {
  readonly status: SnapshotStatus;
  readonly file: ExportFile;
}

interface LastExport {
  /** Undefined when it is of no use (an export after it failed, or the view changed tables): the next export is written whole. */
  layout: ExportLayout | undefined;
  readonly status: SnapshotStatus;
  file: ExportFile;
}

export class ViewExports {
  private last: LastExport | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private staleRemoved: Promise<void> | undefined;
  private closed = false;
  /** Files written, by how (for /metrics: a whole one costs what the view holds, a planned one what changed). */
  readonly written = { planned: 0, whole: 0 };

  constructor(
    /** merged_view.csv: published files are renamed to it; temp files live next to it. */
    private readonly target: string,
    /** Only its current version is read. */
    private readonly store: Pick<ServingStore, 'view'>,
  ) {}

  /** A file of the current version (or of a newer one, when it changes while an earlier export is written). */
  current(): Promise<ExportedVersion> {
    return this.serially(() => this.exportCurrent());
  }

  /** Publishes a file of the current version as the target, atomically; returns the status of the version it holds. */
  publish(): Promise<SnapshotStatus> {
    return this.serially(async () => {
      const { status, file } = await this.exportCurrent();
      try {
        // Published before, the version unchanged: nothing to do while the target is still that file; a new copy of
        // it when the target was removed or replaced.
        if (!(await file.isAt(this.target))) await (file.isPublished ? await this.copyOfLast() : file).publish(this.target);
      } finally {
        await file.release();
      }
      return status;
    });
  }

  /** Refuses new exports, waits for those asked for, then lets go of the last file (removed unless published). */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    const last = this.last;
    this.last = undefined;
    await last?.file.release();
  }

  /** Runs after the work asked for before it; refused once closing (what was asked for before still runs). */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new LambdaflowError('E_STATE', 'the serving layer is closing'));
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async exportCurrent(): Promise<ExportedVersion> {
    this.staleRemoved ??= removeStaleExports(this.target);
    await this.staleRemoved;
    // From here to the freeze nothing waits: the export is of the version current now.
    const view = this.store.view();
    const last = this.last;
    if (last?.status.version === view.status.version) return { status: last.status, file: last.file.acquire() };
    const version = freezeVersion(view);
    let next: { file: ExportFile; layout: ExportLayout };
    try {
      // Planned in steps, lookups answered between.
      const plan = last?.layout && (await runInSteps(planExport(last.layout, version)));
      if (plan && last) {
        const file = await ExportFile.splice(last.file, plan.pieces, plan.fresh, plan.size, hiddenTempPath(this.target));
        await runInSteps(moveLayout(last.layout!, plan));
        next = { file, layout: last.layout! };
        this.written.planned++;
      } else {
        // A layout of another batch view or overlay table is of no more use: its arrays (and the old batch view it
        // holds) go now, not after the whole export.
        if (last) last.layout = undefined;
        next = await this.whole(version);
      }
    } catch (error) {
      // The freeze cut the change log for this export: the last layout no longer knows what changed before it, and the
      // next export is written whole.
      if (last) last.layout = undefined;
      throw error;
    }
    await last?.file.release();
    this.last = { layout: next.layout, status: view.status, file: next.file };
    return { status: view.status, file: next.file.acquire() };
  }

  private async whole(version: FrozenVersion): Promise<{ file: ExportFile; layout: ExportLayout }> {
    // Written in steps between lookups, while the store goes on changing (the change log keeps what this export
    // reads of it).
    const { file, result } = await ExportFile.write(hiddenTempPath(this.target), wholeExport(version));
    this.written.whole++;
    return { file, layout: result };
  }

  /** A new file with the last one's bytes, in its place. */
  private async copyOfLast(): Promise<ExportFile> {
    const last = this.last!;
    const whole = new SplicePieces();
    whole.add(false, 0, last.file.size);
    const copy = await ExportFile.splice(last.file, whole, Buffer.alloc(0), last.file.size, hiddenTempPath(this.target));
    await last.file.release();
    last.file = copy;
    return copy;
  }
}
