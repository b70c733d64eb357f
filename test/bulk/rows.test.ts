import { parseCsv, csvLine, CsvSyntaxError } from '../../client/import/csv';
import { ImportFileError, loadRowsFromText } from '../../client/import/rows';
import { buildReport, reportCsv } from '../../client/import/report';
import { progressLine } from '../../client/import/progress';

describe('CSV parser (RFC 4180)', () => {
  test('quoted fields: separators, doubled quotes, line breaks; CRLF; record start lines', () => {
    const text = 'a,b,c\r\n1,"x, y","say ""hi"""\r\n2,"two\nlines",z\n\n3,,\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'x, y', 'say "hi"'] },
      { line: 3, fields: ['2', 'two\nlines', 'z'] },
      { line: 6, fields: ['3', '', ''] },
    ]);
  });

  test('a BOM, a last line without a newline, an empty quoted field', () => {
    expect(parseCsv('\ufeffa,b\n"",x')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['', 'x'] },
    ]);
  });

  test('malformed quoting is a syntax error naming the line', () => {
    expect(() => parseCsv('a\n"open\n')).toThrow(new CsvSyntaxError(2, 'a quoted field is never closed'));
    expect(() => parseCsv('a,b\nx"y,z\n')).toThrow(/line 2: a quote in the middle/);
    expect(() => parseCsv('a,b\n"x"y,z\n')).toThrow(/line 2: unexpected character "y" after a closing quote/);
  });

  test('writing: quotes only what needs it, and reads back', () => {
    const values = ['plain', 'a,b', 'say "hi"', 'two\nlines', ' padded', ''];
    expect(csvLine(values)).toBe('plain,"a,b","say ""hi""","two\nlines"," padded",');
    expect(parseCsv(csvLine(values))[0]!.fields).toEqual(values);
  });
});

describe('customer rows', () => {
  const header =
    'externalId,name,credits,cap,refillThreshold,refillAmount,webhookUrl,events,scopes,keyName,billingEmail,projectName,timezone,metadata.plan';

  test('CSV columns map onto the start flags; every bad row is reported by line and column', () => {
    const csv = [
      header,
      'acme-1,"Acme, Inc.",5000,5000,1000,2000,https://crm.example.com/hook,content.generated;post.published,content:read|content:write,acme-key,billing@acme.example,Acme,America/Los_Angeles,growth',
      'bad-credits,Bad Co,-5,,,,,,,,,,,',
      'bad-refill,"Half ""Refill"" Co",100,,1000,,,,,,,,,',
      ',No Id,100,,,,,,,,,,,',
      'acme-1,Again,100,,,,,,,,,,,',
      'bad-scope,"Multi',
      'line name",100,,,,,,org:admin,,,,,',
      'bad-tz,Zoned,100,,,,,,,,,Proj,Mars/Olympus,',
      'short,row',
      'ok-2,Plain,1,,,,,,,,,,,',
    ].join('\n');
    const loaded = loadRowsFromText('customers.csv', csv);
    expect(loaded.format).toBe('csv');
    expect(loaded.valid.map((r) => [r.line, r.externalId])).toEqual([
      [2, 'acme-1'],
      [11, 'ok-2'],
    ]);
    expect(loaded.valid[0]!.input).toMatchObject({
      customer: {
        externalId: 'acme-1',
        name: 'Acme, Inc.',
        metadata: { plan: 'growth' },
        billingEmail: 'billing@acme.example',
      },
      credits: 5000,
      creditConfig: { monthlyCreditCap: 5000, refillThreshold: 1000, refillAmount: 2000 },
      firehose: { url: 'https://crm.example.com/hook', events: ['content.generated', 'post.published'] },
      apiKey: { name: 'acme-key', scopes: ['content:read', 'content:write'] },
      project: { name: 'Acme', timezone: 'America/Los_Angeles' },
    });
    const problems = Object.fromEntries(loaded.invalid.map((r) => [r.line, r.problems]));
    expect(problems).toEqual({
      3: ['credits: credits must be greater than 0'],
      4: ['refillAmount: auto-refill is both-or-neither: set refillThreshold and refillAmount together'],
      5: ['externalId: required'],
      6: ['externalId: "acme-1" is already on line 2'],
      7: ['scopes: org:admin can never be delegated to a child key'],
      9: ['timezone: "Mars/Olympus" is not an IANA time zone (e.g. America/Los_Angeles)'],
      10: ['(row): has 2 fields, the header has 14'],
    });
  });

  test('header problems stop the whole file', () => {
    expect(() => loadRowsFromText('c.csv', 'externalId,name,credit\nx,y,1\n')).toThrow(ImportFileError);
    expect(() => loadRowsFromText('c.csv', 'externalId,name,credit\nx,y,1\n')).toThrow(
      /unknown column "credit"/,
    );
    expect(() => loadRowsFromText('c.csv', 'name,credits\ny,1\n')).toThrow(/needs an externalId column/);
    expect(() => loadRowsFromText('c.csv', 'external-id,externalId\n')).toThrow(/appears twice/);
    expect(() => loadRowsFromText('c.csv', '"externalId\n')).toThrow(/never closed/);
    // The flag spelling works as a column name too.
    expect(
      loadRowsFromText('c.csv', 'external-id,name,credits,billing-email\nx-1,X,1,x@example.com\n').valid,
    ).toHaveLength(1);
  });

  test('JSONL: one OnboardingRequest per line; problems name the field path', () => {
    const jsonl = [
      JSON.stringify({ customer: { externalId: 'j-1', name: 'J' }, credits: 5 }),
      '',
      '{not json',
      JSON.stringify({ customer: { externalId: 'j-2' }, credits: 'many' }),
      '[1,2]',
      JSON.stringify({
        customer: {
          externalId: 'j-3',
          name: 'K',
          metadata: { note: 'lp_live_abcdefghijklmnop_secretsecret' },
        },
        credits: 1,
      }),
    ].join('\n');
    const loaded = loadRowsFromText('customers.jsonl', jsonl);
    expect(loaded.format).toBe('jsonl');
    expect(loaded.valid.map((r) => r.externalId)).toEqual(['j-1']);
    const problems = Object.fromEntries(loaded.invalid.map((r) => [r.line, r.problems.join(' | ')]));
    expect(problems[3]).toMatch(/^\(line\): not valid JSON/);
    expect(problems[4]).toBe('customer.name: required | credits: credits must be a number');
    expect(problems[5]).toBe('(line): must be a JSON object (an onboarding request)');
    expect(problems[6]).toMatch(/customer\.metadata\.note: looks like a Layers secret/);
  });

  test('the report lists every row in file order, as JSON and CSV', () => {
    const report = buildReport(
      'c.csv',
      new Date('2026-01-01T00:00:00Z'),
      [
        { externalId: 'b', line: 3, state: 'failed', error: 'Layers 409, "quoted"' },
        { externalId: 'a', line: 2, state: 'completed', orgId: 'org_1' },
        { externalId: '', line: 4, state: 'invalid', error: 'externalId: required' },
      ],
      false,
    );
    expect(report.summary).toMatchObject({ total: 3, completed: 1, failed: 1, invalid: 1 });
    expect(report.rows.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(reportCsv(report)).toBe(
      'externalId,orgId,state,error,line\na,org_1,completed,,2\nb,,failed,"Layers 409, ""quoted""",3\n,,invalid,externalId: required,4\n',
    );
  });

  test('progress line: done / running / waiting / failed, rate and ETA', () => {
    const line = progressLine({
      total: 100,
      done: 40,
      skipped: 5,
      running: 10,
      waiting: 2,
      failed: 1,
      queued: 49,
      ratePerSecond: 4.25,
      etaSeconds: 14,
      elapsedMs: 10_000,
    });
    expect(line).toMatch(
      /^\[█+▓?░+\] 41\/100 {2}done 40 \(5 already\) · running 10 · waiting 2 · failed 1 · queued 49 · 4\.3\/s · ETA 0:14$/,
    );
  });
});
