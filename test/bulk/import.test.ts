import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { OnboardingClient } from '../../client';
import { runImport } from '../../client/import/command';
import type { ImportReport } from '../../client/import/report';
import { childrenOf } from '../helpers/emulator';
import { eventually } from '../helpers/temporal';
import { startOnboardingTestEnv, uniqueExternalId, type OnboardingTestEnv } from '../helpers/onboarding-env';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

describe('onboard import: a CSV with good and bad rows, re-run after an interruption', () => {
  let env: OnboardingTestEnv;
  let dir: string;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
    dir = mkdtempSync(path.join(os.tmpdir(), 'layers-import-'));
  });
  afterAll(async () => env?.close());

  /** runImport closes its client at the end, so each call gets its own connection. */
  async function importFile(file: string, extra: string[] = [], signal?: AbortSignal) {
    const out = capture();
    const err = capture();
    const code = await runImport([file, '--report', path.join(dir, 'outcome'), ...extra], {
      out: out.stream,
      err: err.stream,
      signal,
      redrawMs: 50,
      connect: async () => {
        const connection = await Connection.connect({ address: env.temporal.address });
        return new OnboardingClient(
          new Client({ connection, namespace: env.temporal.namespace }),
          env.taskQueue,
        );
      },
    });
    const report = JSON.parse(readFileSync(path.join(dir, 'outcome.json'), 'utf8')) as ImportReport;
    return {
      code,
      out: out.text(),
      err: err.text(),
      report,
      csv: readFileSync(path.join(dir, 'outcome.csv'), 'utf8'),
    };
  }

  test('validates every row first, onboards the valid ones, reports both; a re-run skips the onboarded', async () => {
    const [a, b, c] = [uniqueExternalId('imp-a'), uniqueExternalId('imp-b'), uniqueExternalId('imp-c')];
    const file = path.join(dir, 'customers.csv');
    writeFileSync(
      file,
      [
        'externalId,name,credits,cap,refillThreshold,refillAmount,scopes,metadata.plan',
        `${a},"Acme, Inc.",500,1000,100,200,content:read;content:write,growth`,
        `${b},Bad Credits,-5,,,,,`,
        `${c},"Quote ""Q"" Co",300,,,,content:read,`,
        `,No Id,100,,,,,`,
        `${b}-2,Half Refill,100,,50,,,`,
        `${a},Duplicate,100,,,,,`,
      ].join('\n') + '\n',
    );

    const first = await env.run(() => importFile(file, ['--concurrency', '2']));
    expect(first.code).toBe(1); // invalid rows
    expect(first.err).toContain(`line 3 (${b}): credits: credits must be greater than 0`);
    expect(first.err).toContain('line 5: externalId: required');
    expect(first.err).toContain(`line 6 (${b}-2): refillAmount: auto-refill is both-or-neither`);
    expect(first.err).toContain(`line 7 (${a}): externalId: "${a}" is already on line 2`);
    expect(first.out).toMatch(/6 rows \(csv\), 2 valid, 4 invalid/);
    expect(first.out).toMatch(/^progress: 2\/2 {2}done 2 · running 0 · waiting 0 · failed 0 · queued 0/m);

    const state = await env.control.state();
    const orgOf = (id: string) => childrenOf(state).filter((o) => o.metadata?.externalId === id);
    expect(orgOf(a)).toHaveLength(1);
    expect(orgOf(c)).toHaveLength(1);
    expect(orgOf(b)).toHaveLength(0);
    expect(first.report.rows.map((r) => [r.line, r.externalId, r.state, r.orgId])).toEqual([
      [2, a, 'completed', orgOf(a)[0].id],
      [3, b, 'invalid', null],
      [4, c, 'completed', orgOf(c)[0].id],
      [5, '', 'invalid', null],
      [6, `${b}-2`, 'invalid', null],
      [7, a, 'invalid', null],
    ]);
    expect(first.report.summary).toMatchObject({ total: 6, completed: 2, invalid: 4, failed: 0 });
    expect(first.csv.split('\n')[0]).toBe('externalId,orgId,state,error,line');
    expect(first.csv).toContain(`${a},${orgOf(a)[0].id},completed,,2`);
    expect(first.csv).toContain(`${b},,invalid,credits: credits must be greater than 0,3`);

    const again = await env.run(() => importFile(file));
    expect(
      again.report.rows.filter((r) => r.state !== 'invalid').map((r) => [r.externalId, r.state, r.orgId]),
    ).toEqual([
      [a, 'already-onboarded', orgOf(a)[0].id],
      [c, 'already-onboarded', orgOf(c)[0].id],
    ]);
    expect(again.out).toMatch(/0 onboarded, 2 already onboarded/);
    const after = await env.control.state();
    expect(childrenOf(after).filter((o) => [a, c].includes(o.metadata?.externalId))).toHaveLength(2);
    expect(
      after.transfers.filter((t) => [orgOf(a)[0].id, orgOf(c)[0].id].includes(t.toOrganizationId)),
    ).toHaveLength(2);
  });

  test('interrupted: in-flight rows are reported running and not-started ones not-started; the re-run finishes them', async () => {
    const ids = [uniqueExternalId('int-a'), uniqueExternalId('int-b'), uniqueExternalId('int-c')];
    const file = path.join(dir, 'interrupted.jsonl');
    writeFileSync(
      file,
      ids
        .map((externalId) => JSON.stringify({ customer: { externalId, name: externalId }, credits: 10 }))
        .join('\n') + '\n',
    );

    const stop = new AbortController();
    const first = await env.run(async () => {
      const watching = eventually(
        async () => childrenOf(await env.control.state()).some((o) => o.metadata?.externalId === ids[0]),
        {
          intervalMs: 20,
        },
      ).then(() => stop.abort());
      const result = await importFile(file, ['--concurrency', '1'], stop.signal);
      await watching;
      return result;
    });
    expect(first.code).toBe(130);
    expect(first.report.interrupted).toBe(true);
    expect(first.report.rows.map((r) => r.state)).toEqual(['running', 'not-started', 'not-started']);
    expect(first.out).toMatch(/Stopped: .*1 still running \(re-run to follow them\), 2 not started/);

    const again = await env.run(() => importFile(file, ['--concurrency', '3']));
    expect(again.code).toBe(0);
    expect(['completed', 'already-onboarded']).toContain(again.report.rows[0]!.state);
    expect(again.report.rows.slice(1).map((r) => r.state)).toEqual(['completed', 'completed']);
    const state = await env.control.state();
    for (const id of ids)
      expect(childrenOf(state).filter((o) => o.metadata?.externalId === id)).toHaveLength(1);
  });
});
