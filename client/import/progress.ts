/**
 * Progress display: a one-line bar redrawn in place on a terminal, plain lines now and then otherwise
 * (CI logs, files, pipes). Hand-written ANSI: erase the line, carriage return, redraw.
 */
import type { BulkProgress } from './runner';

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function progressBar(p: BulkProgress, width = 24): string {
  const finished = p.done + p.failed;
  const filled = p.total === 0 ? width : Math.round((finished / p.total) * width);
  const failedCells = p.total === 0 ? 0 : Math.min(filled, Math.round((p.failed / p.total) * width));
  return `${'█'.repeat(filled - failedCells)}${'▓'.repeat(failedCells)}${'░'.repeat(width - filled)}`;
}

/** `[████░░] 523/1000 done 500 · running 48 · waiting 2 · failed 3 · 27.1/s · ETA 0:17` */
export function progressLine(p: BulkProgress, { bar = true }: { bar?: boolean } = {}): string {
  const finished = p.done + p.failed;
  const parts = [
    `done ${p.done}${p.skipped ? ` (${p.skipped} already)` : ''}`,
    `running ${p.running}`,
    `waiting ${p.waiting}`,
    `failed ${p.failed}`,
    `queued ${p.queued}`,
    `${p.ratePerSecond.toFixed(1)}/s`,
    `ETA ${formatDuration(p.etaSeconds)}`,
  ];
  return `${bar ? `[${progressBar(p)}] ` : ''}${finished}/${p.total}  ${parts.join(' · ')}`;
}

export interface ProgressRenderer {
  /** Draw now. */
  update(p: BulkProgress): void;
  /** Print a line above the bar (a failure, say) without breaking it. */
  log(line: string): void;
  /** Final state; leaves the cursor on a fresh line. */
  finish(p: BulkProgress): void;
}

export function createProgressRenderer(
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  { plainEveryMs = 5_000 }: { plainEveryMs?: number } = {},
): ProgressRenderer {
  if (stream.isTTY) {
    let last = '';
    const clip = (text: string) =>
      stream.columns && text.length > stream.columns - 1 ? text.slice(0, stream.columns - 1) : text;
    const draw = (text: string) => stream.write(`\r\x1b[2K${clip(text)}`);
    return {
      update(p) {
        last = progressLine(p);
        draw(last);
      },
      log(line) {
        stream.write(`\r\x1b[2K${line}\n`);
        if (last) draw(last);
      },
      finish(p) {
        draw(progressLine(p));
        stream.write('\n');
      },
    };
  }
  let lastPrinted = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now - lastPrinted < plainEveryMs) return;
      lastPrinted = now;
      stream.write(`progress: ${progressLine(p, { bar: false })}\n`);
    },
    log(line) {
      stream.write(`${line}\n`);
    },
    finish(p) {
      stream.write(`progress: ${progressLine(p, { bar: false })}\n`);
    },
  };
}
