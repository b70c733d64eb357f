/**
 * A small RFC 4180 CSV parser: comma-separated, fields optionally quoted with `"`, a quote inside a
 * quoted field doubled (`""`), CRLF or LF line ends, line breaks allowed inside quoted fields.
 * Each record remembers the physical line it starts on, so validation can point at it.
 */

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  override name = 'CsvSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  // A UTF-8 byte-order mark (Excel writes one) is not part of the first header.
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let fields: string[] = [];
  let field = '';
  let recordLine = 1;
  let quoted = false;
  /** The current field was quoted and its closing quote was seen: only a separator may follow. */
  let closed = false;
  let quoteLine = 1;

  const endField = () => {
    fields.push(field);
    field = '';
    closed = false;
  };
  const endRecord = () => {
    endField();
    // Blank lines (a single empty field) are skipped, as most CSV writers emit a trailing one.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: recordLine, fields });
    fields = [];
  };

  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        closed = true;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === ',') {
      endField();
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (closed)
      throw new CsvSyntaxError(
        line,
        `unexpected character ${JSON.stringify(c)} after a closing quote (quote the whole field and double any " inside it)`,
      );
    if (c === '"') {
      if (field !== '')
        throw new CsvSyntaxError(
          line,
          'a quote in the middle of an unquoted field (quote the whole field and double any " inside it)',
        );
      quoted = true;
      quoteLine = line;
      i++;
      continue;
    }
    field += c;
    i++;
  }
  if (quoted) throw new CsvSyntaxError(quoteLine, 'a quoted field is never closed');
  if (field !== '' || fields.length > 0 || closed) endRecord();
  return records;
}

/** Quote a value for CSV output when it needs it (separator, quote, line break, leading/trailing space). */
export function csvField(value: unknown): string {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: unknown[]): string {
  return values.map(csvField).join(',');
}
