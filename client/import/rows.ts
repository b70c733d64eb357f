/**
 * Reads a customers file (CSV or JSONL) into onboarding requests and validates every row before anything
 * starts. CSV columns are the `start` command's flags (camelCase or the flag's own spelling), plus
 * `metadata.<key>` columns; list cells (events, scopes) take `;`, `|` or `,` between items. JSONL lines
 * are OnboardingRequest objects.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../errors';
import { findKeyMaterial } from '../../common/key-material';
import { onboardingRequestFromFlags, START_OPTIONS } from '../cli/args';
import {
  parseOnboardingInput,
  type OnboardingInput,
  type OnboardingRequest,
} from '../../common/onboarding-input';
import { CsvSyntaxError, parseCsv } from './csv';

export interface ValidRow {
  line: number;
  externalId: string;
  request: OnboardingRequest;
  input: OnboardingInput;
}

export interface InvalidRow {
  line: number;
  /** When the row got far enough to name one. */
  externalId?: string;
  /** One per problem, each naming its field: `credits: credits must be greater than 0`. */
  problems: string[];
}

export interface LoadedRows {
  format: 'csv' | 'jsonl';
  valid: ValidRow[];
  invalid: InvalidRow[];
}

/** The whole file is unusable (unreadable, unknown format, bad CSV header or quoting). */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

/** CSV column → `start` flag. Keys are normalized: lower case, no `-` or `_`. */
const COLUMN_TO_FLAG: Record<string, keyof typeof START_OPTIONS> = {};
for (const flag of Object.keys(START_OPTIONS) as Array<keyof typeof START_OPTIONS>) {
  if (['input', 'wait', 'json', 'metadata'].includes(flag)) continue;
  COLUMN_TO_FLAG[normalize(flag)] = flag;
}

/** A problem's field path → the CSV column a spreadsheet user would fix. */
const FIELD_TO_COLUMN: Array<[RegExp, string]> = [
  [/^customer\.externalId$/, 'externalId'],
  [/^customer\.name$/, 'name'],
  [/^customer\.billingEmail$/, 'billingEmail'],
  [/^customer\.metadata\.(.+)$/, 'metadata.$1'],
  [/^customer\.metadata$/, 'metadata.*'],
  [/^credits$/, 'credits'],
  [/^creditConfig\.monthlyCreditCap$/, 'cap'],
  [/^creditConfig\.refillThreshold$/, 'refillThreshold'],
  [/^creditConfig\.refillAmount$/, 'refillAmount'],
  [/^firehose\.url$/, 'webhookUrl'],
  [/^firehose\.events(\.\d+)?$/, 'events'],
  [/^apiKey\.scopes(\.\d+)?$/, 'scopes'],
  [/^apiKey\.name$/, 'keyName'],
  [/^project\.name$/, 'projectName'],
  [/^project\.timezone$/, 'timezone'],
];

function normalize(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[-_\s]/g, '');
}

/** `creditConfig.refillAmount: …` → `refillAmount: …` for CSV rows, whose users know columns, not paths. */
export function columnProblem(problem: string): string {
  const colon = problem.indexOf(': ');
  if (colon < 0) return problem;
  const field = problem.slice(0, colon);
  for (const [re, column] of FIELD_TO_COLUMN) {
    if (re.test(field)) return `${field.replace(re, column)}: ${problem.slice(colon + 2)}`;
  }
  return problem;
}

function splitList(cell: string): string {
  // The flag takes commas; a CSV cell is easier to write with ; or | (no quoting needed).
  return cell.replace(/[;|]/g, ',');
}

export function detectFormat(file: string, text: string): 'csv' | 'jsonl' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  const first = text.replace(/^\ufeff/, '').trimStart();
  if (first.startsWith('{')) return 'jsonl';
  if (first.length > 0) return 'csv';
  throw new ImportFileError(`${file}: empty file`);
}

function validate(
  line: number,
  request: unknown,
  describe: (problem: string) => string = (p) => p,
): ValidRow | InvalidRow {
  const externalId =
    request &&
    typeof request === 'object' &&
    typeof (request as OnboardingRequest).customer?.externalId === 'string'
      ? (request as OnboardingRequest).customer.externalId
      : undefined;
  const parsed = parseOnboardingInput(request);
  if (!parsed.ok)
    return { line, externalId, problems: parsed.errors.map((p) => describe(missingIsRequired(request, p))) };
  const secrets = findKeyMaterial(request as OnboardingRequest);
  if (secrets.length) {
    return {
      line,
      externalId,
      problems: secrets.map((field) =>
        describe(`${field}: looks like a Layers secret; secrets never go into workflow input`),
      ),
    };
  }
  return {
    line,
    externalId: parsed.value.customer.externalId,
    request: request as OnboardingRequest,
    input: parsed.value,
  };
}

/**
 * A schema rule without the shared `requiredOr` option still describes an absent field by its type ("must be
 * a string"): say `required` instead, in the same words the library uses (`<field>: required`).
 */
function missingIsRequired(request: unknown, problem: string): string {
  const colon = problem.indexOf(': ');
  if (colon < 0 || !/^(must be a|.* must be a) (string|number)$/.test(problem.slice(colon + 2)))
    return problem;
  const field = problem.slice(0, colon);
  let node: unknown = request;
  for (const key of field.split('.'))
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return node === undefined ? `${field}: required` : problem;
}

export function rowsFromCsv(text: string): Array<ValidRow | InvalidRow> {
  let records;
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw new ImportFileError(err.message);
    throw err;
  }
  const [header, ...body] = records;
  if (!header) throw new ImportFileError('the CSV file has no header row');
  const columns = header.fields.map((name, index) => {
    const trimmed = name.trim();
    if (/^metadata\./i.test(trimmed)) {
      const key = trimmed.slice('metadata.'.length);
      if (!key)
        throw new ImportFileError(
          `line ${header.line}: column ${index + 1} "${name}" needs a key after "metadata."`,
        );
      return { kind: 'metadata' as const, key };
    }
    const flag = COLUMN_TO_FLAG[normalize(trimmed)];
    if (!flag) {
      throw new ImportFileError(
        `line ${header.line}: unknown column "${name}" (known: externalId, name, credits, cap, refillThreshold, refillAmount, webhookUrl, events, scopes, keyName, billingEmail, projectName, timezone, metadata.<key>)`,
      );
    }
    return { kind: 'flag' as const, flag };
  });
  const seen = new Set<string>();
  for (const c of columns) {
    const id = c.kind === 'flag' ? c.flag : `metadata.${c.key}`;
    if (seen.has(id)) throw new ImportFileError(`line ${header.line}: column "${id}" appears twice`);
    seen.add(id);
  }
  if (!seen.has('external-id'))
    throw new ImportFileError(`line ${header.line}: the header needs an externalId column`);

  return body.map((record) => {
    if (record.fields.length !== columns.length) {
      return {
        line: record.line,
        problems: [`(row): has ${record.fields.length} fields, the header has ${columns.length}`],
      };
    }
    const values: Record<string, string | string[]> = {};
    const metadata: string[] = [];
    record.fields.forEach((raw, index) => {
      const column = columns[index]!;
      const cell = raw.trim();
      if (cell === '') return;
      if (column.kind === 'metadata') metadata.push(`${column.key}=${cell}`);
      else
        values[column.flag] = column.flag === 'events' || column.flag === 'scopes' ? splitList(cell) : cell;
    });
    if (metadata.length) values.metadata = metadata;
    let request: OnboardingRequest;
    try {
      request = onboardingRequestFromFlags(values);
    } catch (err) {
      if (err instanceof InvalidInputError)
        return { line: record.line, problems: err.problems.map(columnProblem) };
      throw err;
    }
    return validate(record.line, request, columnProblem);
  });
}

export function rowsFromJsonl(text: string): Array<ValidRow | InvalidRow> {
  const out: Array<ValidRow | InvalidRow> = [];
  text
    .replace(/^\ufeff/, '')
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const line = index + 1;
      if (raw.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (err) {
        out.push({ line, problems: [`(line): not valid JSON (${(err as Error).message})`] });
        return;
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        out.push({ line, problems: ['(line): must be a JSON object (an onboarding request)'] });
        return;
      }
      out.push(validate(line, value));
    });
  return out;
}

/** Parses and validates every row; a customer listed twice is a problem on its second line. */
export function loadRowsFromText(file: string, text: string): LoadedRows {
  const format = detectFormat(file, text);
  const rows = format === 'csv' ? rowsFromCsv(text) : rowsFromJsonl(text);
  const valid: ValidRow[] = [];
  const invalid: InvalidRow[] = [];
  const firstLine = new Map<string, number>();
  for (const row of rows) {
    if (row.externalId !== undefined) {
      const earlier = firstLine.get(row.externalId);
      if (earlier !== undefined) {
        const duplicate = `externalId: "${row.externalId}" is already on line ${earlier}`;
        invalid.push({
          line: row.line,
          externalId: row.externalId,
          problems: 'problems' in row ? [duplicate, ...row.problems] : [duplicate],
        });
        continue;
      }
      firstLine.set(row.externalId, row.line);
    }
    if ('problems' in row) invalid.push(row);
    else valid.push(row);
  }
  if (valid.length === 0 && invalid.length === 0) throw new ImportFileError(`${file}: no customer rows`);
  return { format, valid, invalid };
}

export function loadRows(file: string): LoadedRows {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ImportFileError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return loadRowsFromText(file, text);
}
