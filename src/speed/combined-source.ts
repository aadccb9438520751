// Two sources feeding one stream: the default stream read from NATS still takes files renamed into stream_input/
// (replay-quarantine's replays, a producer of files), so that it stays the one speed layer of the data folder.

import { MASTER_ENTRY_PREFIX } from '../io/files/layout.js';
import { type NewFile, type StreamSource } from './ports.js';

/** Files from `landing` (stream_input/) and from `master` (a source writing its own master files: NATS), logged in one log. */
export class CombinedSource implements StreamSource {
  constructor(
    private readonly landing: StreamSource,
    private readonly master: StreamSource,
  ) {}

  async newFiles(nowMs: number, fullListing: boolean): Promise<NewFile[]> {
    return [...(await this.landing.newFiles(nowMs, fullListing)), ...(await this.master.newFiles(nowMs, fullListing))];
  }

  logged(names: readonly string[]): void {
    this.landing.logged(names.filter((name) => !name.startsWith(MASTER_ENTRY_PREFIX)));
    this.master.logged(names.filter((name) => name.startsWith(MASTER_ENTRY_PREFIX)));
  }

  forget(names: readonly string[]): void {
    this.landing.forget(names);
  }

  unreadableSinceMs(): number | null {
    return this.master.unreadableSinceMs?.() ?? null;
  }

  async close(): Promise<void> {
    await Promise.all([this.landing.close(), this.master.close()]);
  }
}
