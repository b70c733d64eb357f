import { describeCliError, run } from '../../client/cli/main';
import { startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { runCli } from '../helpers/processes';
import { eventually } from '../helpers/temporal';
import { isoIn, onboarded, orgsOf, untilState } from './helpers';

// `npm run onboard -- pause|resume|churn|reactivate|status|list`, run as the CRM's operator would.
describe('CLI: lifecycle commands', () => {
  let env: OnboardingTestEnv;
  const saved = { ...process.env };
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
    Object.assign(process.env, {
      TEMPORAL_ADDRESS: env.temporal.address,
      TEMPORAL_NAMESPACE: env.temporal.namespace,
      TEMPORAL_TASK_QUEUE: env.taskQueue,
    });
  });
  afterAll(async () => {
    process.env = saved;
    await env?.close();
  });

  /** Runs the CLI in this process (as `main` does) and returns its exit code and output. */
  async function cli(...args: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const log = jest
      .spyOn(console, 'log')
      .mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const error = jest
      .spyOn(console, 'error')
      .mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      const code = await run(args).catch((err: unknown) => {
        const described = describeCliError(err);
        lines.push(described.message);
        return described.code;
      });
      return { code, out: lines.join('\n') };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }

  test('pause --wait, resume, churn --effective-at, reactivate, churn --drain; status and list show each step', async () => {
    await env.run(async () => {
      const { externalId, result } = await onboarded(env);

      const paused = await cli(
        'pause',
        externalId,
        '--reason',
        'support hold',
        '--event-id',
        'crm-1',
        '--wait',
      );
      expect(paused).toEqual({
        code: 0,
        out: expect.stringContaining(`${externalId}: suspended (org ${result.orgId}, suspended)`),
      });
      expect(paused.out).toContain('active → suspended  paused: support hold [crm-1]');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('suspended');

      const listed = await eventually(async () => {
        const r = await cli('list', '--state', 'suspended', '--json');
        const rows = JSON.parse(r.out) as Array<{ externalId: string }>;
        return rows.some((row) => row.externalId === externalId) ? rows : undefined;
      });
      expect(listed.find((row) => row.externalId === externalId)).toMatchObject({
        state: 'suspended',
        orgId: result.orgId,
      });

      expect(await cli('resume', externalId, '--event-id', 'crm-2')).toEqual({
        code: 0,
        out: `Sent resume to ${externalId} (event crm-2)`,
      });
      await untilState(env, externalId, 'active');

      const scheduled = await cli(
        'churn',
        externalId,
        '--effective-at',
        isoIn(3_600_000),
        '--reason',
        'non-renewal',
        '--wait',
      );
      expect(scheduled.out).toMatch(/: offboarding \(org .*\n {2}offboarding at /);
      expect((await cli('reactivate', externalId, '--reason', 'renewed')).code).toBe(0);
      await untilState(env, externalId, 'active');

      const status = await cli('status', externalId);
      expect(status.code).toBe(0);
      expect(status.out).toContain(`${externalId}: active (org ${result.orgId})`);
      expect(status.out).toContain('reactivated: renewed');
      expect(status.out).toMatch(/onboarding: completed \(org .*\)\n {2}done {5}preflight/);

      expect((await cli('churn', externalId, '--drain', '--reason', 'left')).code).toBe(0);
      expect((await env.crm.customerResult(externalId)).state).toBe('archived');
      const archived = await cli('status', externalId, '--json');
      expect(JSON.parse(archived.out).customer).toMatchObject({
        state: 'archived',
        offboarding: { reclaimedCredits: 5000, revokedApiKeys: 1 },
      });
      // Archival is terminal: starting the same customer again is a conflict (exit 4).
      const again = await cli(
        'start',
        '--external-id',
        externalId,
        '--name',
        'Acme Coffee',
        '--credits',
        '5000',
      );
      expect(again).toEqual({
        code: 4,
        out: expect.stringContaining(`customer ${externalId} was offboarded`),
      });
    });
  });

  test('mistakes are named before anything is sent', async () => {
    expect(await cli('pause')).toMatchObject({
      code: 2,
      out: expect.stringContaining('pause: <externalId> is required'),
    });
    expect(await cli('pause', 'acme', '--until', 'tomorrow')).toMatchObject({
      code: 2,
      out: expect.stringContaining('until: must be an ISO 8601 date-time'),
    });
    expect(await cli('churn', 'acme', '--effective-at', '2020-01-01T00:00:00Z')).toMatchObject({
      code: 2,
      out: expect.stringContaining('effectiveAt: must be in the future'),
    });
    expect(await cli('resume', 'acme', '--drain')).toMatchObject({
      code: 2,
      out: expect.stringContaining('resume: unknown option --drain'),
    });
    expect(await cli('list', '--state', 'paused')).toMatchObject({
      code: 2,
      out: expect.stringContaining('--state: must be one of'),
    });
    expect(await cli('status', 'nobody-here')).toMatchObject({
      code: 3,
      out: expect.stringContaining('no such customer'),
    });
  });

  test('the real entry point: `npm run onboard -- status` in its own process', async () => {
    const { externalId, code, out } = await env.run(async () => {
      const { externalId } = await onboarded(env);
      const { code, stdout, stderr } = await runCli(['status', externalId]);
      const out = stdout + stderr;
      return { externalId, code, out };
    });
    expect({ code, out }).toEqual({ code: 0, out: expect.stringContaining(`${externalId}: active (org `) });
  });
});
