/**
 * Optional persistence (--data-dir). The whole state is written as JSON to a temporary file which is
 * fsynced and then renamed over `emulator-state.json`: a rename is atomic, so a kill at any moment
 * leaves either the previous or the new state, never a torn file. Writes are debounced (coalesced
 * within `debounceMs` of the first change) and flushed synchronously on close.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PersistedState } from './store';

export const STATE_FILE = 'emulator-state.json';

export class Persister {
  private timer: NodeJS.Timeout | null = null;
  private readonly file: string;

  constructor(
    dataDir: string,
    private readonly snapshot: () => PersistedState,
    private readonly debounceMs = 50,
  ) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, STATE_FILE);
  }

  load(): PersistedState | null {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    return JSON.parse(text) as PersistedState;
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.writeNow();
    }, this.debounceMs);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.writeNow();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private writeNow(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const data = JSON.stringify(this.snapshot());
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    try {
      const dirFd = fs.openSync(path.dirname(this.file), 'r');
      fs.fsyncSync(dirFd);
      fs.closeSync(dirFd);
    } catch {
      // Directory fsync is best-effort (not supported everywhere).
    }
  }
}
