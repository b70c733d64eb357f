/** The outcome report: one row per input row, as JSON and as CSV (externalId, orgId, state, error, line). */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { csvLine } from './csv';
import type { InvalidRow } from './rows';
import type { Outcome, OutcomeState } from './runner';

export interface ReportRow {
  externalId: string;
  orgId: string | null;
  state: OutcomeState;
  error: string | null;
  line: number;
}

export interface ImportReport {
  input: string;
  startedAt: string;
  finishedAt: string;
  /** True when the import was stopped before every row finished. */
  interrupted: boolean;
  summary: Record<OutcomeState, number> & { total: number };
  rows: ReportRow[];
}

export const REPORT_COLUMNS = ['externalId', 'orgId', 'state', 'error', 'line'] as const;

export function invalidOutcome(row: InvalidRow): Outcome {
  return {
    externalId: row.externalId ?? '',
    line: row.line,
    state: 'invalid',
    error: row.problems.join('; '),
  };
}

export function buildReport(
  input: string,
  startedAt: Date,
  outcomes: Outcome[],
  interrupted: boolean,
): ImportReport {
  const rows = [...outcomes]
    .sort((a, b) => a.line - b.line)
    .map((o): ReportRow => ({
      externalId: o.externalId,
      orgId: o.orgId ?? null,
      state: o.state,
      error: o.error ?? null,
      line: o.line,
    }));
  const summary = {
    total: rows.length,
    completed: 0,
    'already-onboarded': 0,
    failed: 0,
    invalid: 0,
    running: 0,
    'not-started': 0,
  } satisfies ImportReport['summary'];
  for (const r of rows) summary[r.state]++;
  return {
    input,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    interrupted,
    summary,
    rows,
  };
}

export function reportCsv(report: ImportReport): string {
  return (
    [csvLine([...REPORT_COLUMNS]), ...report.rows.map((r) => csvLine(REPORT_COLUMNS.map((c) => r[c])))].join(
      '\n',
    ) + '\n'
  );
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** `base` without extension: writes `<base>.json` and `<base>.csv`; returns both paths. */
export function writeReport(base: string, report: ImportReport): { json: string; csv: string } {
  const json = `${base}.json`;
  const csv = `${base}.csv`;
  writeAtomic(json, JSON.stringify(report, null, 2) + '\n');
  writeAtomic(csv, reportCsv(report));
  return { json, csv };
}

/** customers.csv → customers.outcome (next to the input). */
export function defaultReportBase(input: string): string {
  const ext = path.extname(input);
  return path.join(path.dirname(input), `${path.basename(input, ext)}.outcome`);
}
