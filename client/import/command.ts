/**
 * `npm run onboard -- import customers.csv|customers.jsonl [--concurrency N] [--report BASE] [--dry-run]`
 *
 * Validates every row first (problems reported by line and field), then starts one onboarding per valid
 * row with bounded concurrency, shows progress, and writes an outcome report as JSON and CSV. Re-running
 * the same file after an interruption skips customers already onboarded and attaches to running ones.
 */
import { OnboardingClient } from '../onboarding-client';
import { UsageError, parseCommandArgs } from '../cli/args';
import { createProgressRenderer } from './progress';
import { buildReport, defaultReportBase, invalidOutcome, writeReport } from './report';
import { ImportFileError, loadRows, type LoadedRows } from './rows';
import { BulkRun, type Outcome } from './runner';

/**
 * Onboardings in flight at once. Enough to keep a partner key's paced write queue busy (bench/RESULTS.md):
 * more only lengthens every onboarding's wait in the queue.
 */
export const DEFAULT_IMPORT_CONCURRENCY = 50;
export const MAX_IMPORT_CONCURRENCY = 2_000;

export const IMPORT_OPTIONS = {
  concurrency: { type: 'string' },
  report: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

export const IMPORT_USAGE = `  import <customers.csv|customers.jsonl> [--concurrency N] [--report BASE] [--dry-run]
        validate every row, then onboard the valid ones (re-run to resume: completed customers are skipped);
        writes BASE.json and BASE.csv (default: <file>.outcome.*)`;

export interface ImportIo {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  err: NodeJS.WritableStream;
  connect: () => Promise<OnboardingClient>;
  /** Stops the import (SIGINT in the CLI). */
  signal?: AbortSignal;
  /** Redraw interval on a terminal. */
  redrawMs?: number;
}

function parseConcurrency(value: string | undefined): number {
  if (value === undefined) return DEFAULT_IMPORT_CONCURRENCY;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_IMPORT_CONCURRENCY) {
    throw new UsageError(`--concurrency: must be a whole number from 1 to ${MAX_IMPORT_CONCURRENCY} (got "${value}")`);
  }
  return n;
}

export function describeInvalid(loaded: LoadedRows): string[] {
  const lines: string[] = [];
  for (const row of loaded.invalid) {
    const who = row.externalId ? ` (${row.externalId})` : '';
    for (const problem of row.problems) lines.push(`line ${row.line}${who}: ${problem}`);
  }
  return lines;
}

export async function runImport(argv: string[], io: ImportIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, IMPORT_OPTIONS);
  if (positionals.length !== 1) throw new UsageError('import: expects exactly one file (customers.csv or customers.jsonl)');
  const file = positionals[0]!;
  const concurrency = parseConcurrency(values.concurrency);
  const reportBase = (values.report ?? defaultReportBase(file)).replace(/\.(json|csv)$/i, '');
  const startedAt = new Date();

  let loaded: LoadedRows;
  try {
    loaded = loadRows(file);
  } catch (err) {
    if (!(err instanceof ImportFileError)) throw err;
    io.err.write(`error: ${err.message}\n`);
    return 2;
  }
  const invalidLines = describeInvalid(loaded);
  for (const line of invalidLines) io.err.write(`${line}\n`);
  io.out.write(
    `${file}: ${loaded.valid.length + loaded.invalid.length} rows (${loaded.format}), ${loaded.valid.length} valid, ${loaded.invalid.length} invalid\n`,
  );
  if (values['dry-run']) return loaded.invalid.length ? 1 : 0;

  const outcomes: Outcome[] = loaded.invalid.map(invalidOutcome);
  let interrupted = false;
  if (loaded.valid.length) {
    const client = await io.connect();
    try {
      const renderer = createProgressRenderer(io.out);
      const run = new BulkRun(client, loaded.valid, {
        concurrency,
        signal: io.signal,
        onOutcome: (o) => {
          if (o.state === 'failed') renderer.log(`failed: ${o.externalId} (line ${o.line}): ${o.error}`);
        },
      });
      const timer = setInterval(() => renderer.update(run.progress()), io.redrawMs ?? (io.out.isTTY ? 250 : 1_000));
      try {
        outcomes.push(...(await run.run()));
      } finally {
        clearInterval(timer);
      }
      renderer.finish(run.progress());
      interrupted = Boolean(io.signal?.aborted);
    } finally {
      await client.close();
    }
  }

  const report = buildReport(file, startedAt, outcomes, interrupted);
  const written = writeReport(reportBase, report);
  const s = report.summary;
  io.out.write(
    `${interrupted ? 'Stopped' : 'Finished'}: ${s.completed} onboarded, ${s['already-onboarded']} already onboarded, ${s.failed} failed, ${s.invalid} invalid` +
      `${s.running ? `, ${s.running} still running (re-run to follow them)` : ''}${s['not-started'] ? `, ${s['not-started']} not started` : ''}\n` +
      `Report: ${written.json} and ${written.csv}\n`,
  );
  if (interrupted) return 130;
  return s.failed || s.invalid ? 1 : 0;
}

/** The CLI entry: the real Temporal client, SIGINT stops gracefully (a second one exits at once). */
export async function importCommand(argv: string[]): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nStopping: no new onboardings start; the running ones go on in Temporal (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await runImport(argv, {
      out: process.stdout,
      err: process.stderr,
      connect: () => OnboardingClient.connect(),
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
