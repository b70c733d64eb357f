/**
 * `npm run onboard -- import customers.csv|customers.jsonl [--concurrency N] [--report BASE] [--dry-run] [--json]`
 *
 * Validates every row first (problems reported by line and field), then starts one onboarding per valid
 * row with bounded concurrency, shows progress, and writes an outcome report as JSON and CSV. Re-running
 * the same file after an interruption skips customers already onboarded and attaches to running ones.
 */
import { OnboardingClient } from '../onboarding-client';
import { JSON_OPTION, UsageError, parseCommandArgs, type OptionSpecs, type OptionValues } from '../cli/args';
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
  concurrency: {
    type: 'string',
    value: 'N',
    description: `onboardings in flight at once (default ${DEFAULT_IMPORT_CONCURRENCY})`,
  },
  report: {
    type: 'string',
    value: 'BASE',
    description: 'write the outcome to BASE.json and BASE.csv (default: <file>.outcome.*)',
  },
  'dry-run': { type: 'boolean', description: 'validate every row and stop' },
  ...JSON_OPTION,
} as const satisfies OptionSpecs;

export type ImportValues = OptionValues<typeof IMPORT_OPTIONS>;

export const IMPORT_DESCRIPTION =
  'validate every row, then onboard the valid ones (re-run to resume: completed customers are skipped); writes an outcome report';

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
    throw new UsageError(
      `--concurrency: must be a whole number from 1 to ${MAX_IMPORT_CONCURRENCY} (got "${value}")`,
      '--concurrency',
      'import',
    );
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

/** The importer's own entry (tests, scripts): parses argv like the CLI; an unusable file is exit 2. */
export async function runImport(argv: string[], io: ImportIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, IMPORT_OPTIONS);
  if (positionals.length !== 1)
    throw new UsageError(
      'import: expects exactly one file (customers.csv or customers.jsonl)',
      'file',
      'import',
    );
  try {
    return await importFile(positionals[0]!, values, io);
  } catch (err) {
    if (!(err instanceof ImportFileError)) throw err;
    io.err.write(`error: ${err.message}\n`);
    return 2;
  }
}

/**
 * Imports one file. With `json`, the human lines go to `io.err` and `io.out` gets one JSON object at the
 * end (the summary, or the invalid rows of a dry run). Throws ImportFileError when the file is unusable.
 */
export async function importFile(file: string, values: ImportValues, io: ImportIo): Promise<number> {
  const concurrency = parseConcurrency(values.concurrency);
  const reportBase = (values.report ?? defaultReportBase(file)).replace(/\.(json|csv)$/i, '');
  const startedAt = new Date();
  const human: ImportIo['out'] = values.json ? io.err : io.out;

  const loaded: LoadedRows = loadRows(file);
  const invalidLines = describeInvalid(loaded);
  for (const line of invalidLines) io.err.write(`${line}\n`);
  human.write(
    `${file}: ${loaded.valid.length + loaded.invalid.length} rows (${loaded.format}), ${loaded.valid.length} valid, ${loaded.invalid.length} invalid\n`,
  );
  if (values['dry-run']) {
    if (values.json) {
      const rows = { valid: loaded.valid.length, invalid: loaded.invalid.length };
      io.out.write(
        `${JSON.stringify({ input: file, format: loaded.format, dryRun: true, ...rows, problems: invalidLines }, null, 2)}\n`,
      );
    }
    return loaded.invalid.length ? 1 : 0;
  }

  const outcomes: Outcome[] = loaded.invalid.map(invalidOutcome);
  let interrupted = false;
  if (loaded.valid.length) {
    const client = await io.connect();
    try {
      const renderer = createProgressRenderer(human);
      const run = new BulkRun(client, loaded.valid, {
        concurrency,
        signal: io.signal,
        onOutcome: (o) => {
          if (o.state === 'failed') renderer.log(`failed: ${o.externalId} (line ${o.line}): ${o.error}`);
        },
      });
      const timer = setInterval(
        () => renderer.update(run.progress()),
        io.redrawMs ?? (human.isTTY ? 250 : 1_000),
      );
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
  human.write(
    `${interrupted ? 'Stopped' : 'Finished'}: ${s.completed} onboarded, ${s['already-onboarded']} already onboarded, ${s.failed} failed, ${s.invalid} invalid` +
      `${s.running ? `, ${s.running} still running (re-run to follow them)` : ''}${s['not-started'] ? `, ${s['not-started']} not started` : ''}\n` +
      `Report: ${written.json} and ${written.csv}\n`,
  );
  if (values.json)
    io.out.write(`${JSON.stringify({ input: file, interrupted, summary: s, report: written }, null, 2)}\n`);
  if (interrupted) return 130;
  return s.failed || s.invalid ? 1 : 0;
}

/** The CLI entry: the real Temporal client, SIGINT stops gracefully (a second one exits at once). */
export async function importCommand(file: string, values: ImportValues): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(
      '\nStopping: no new onboardings start; the running ones go on in Temporal (Ctrl-C again to quit now)\n',
    );
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await importFile(file, values, {
      out: process.stdout,
      err: process.stderr,
      connect: () => OnboardingClient.connect(),
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
