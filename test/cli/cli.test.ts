import { version } from '../../package.json';
import { onboardingWorkflowId } from '../../common/ids';
import {
  acmeCoffee,
  fastTiming,
  startOnboardingTestEnv,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { runCli, type CliRun } from '../helpers/processes';
import { eventually } from '../helpers/temporal';
import { fastLifecycle, isoIn, onboarded, orgsOf, untilState } from '../lifecycle/helpers';

/** `npm run onboard -- …` in its own process, as an operator or a script runs it. */
const onboard = runCli;

/** The whole of stdout is one JSON error, exactly `{error: {code, message, field?}}`. */
function jsonError(run: CliRun): { code: string; message: string; field?: string } {
  const parsed = JSON.parse(run.stdout) as { error: { code: string; message: string; field?: string } };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(Object.keys(parsed.error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
  expect(Object.keys(parsed.error).every((k) => ['code', 'message', 'field'].includes(k))).toBe(true);
  return parsed.error;
}

describe('CLI process: help, version and usage errors (no server needed)', () => {
  test('`start --help` prints the command help and exits 0', async () => {
    const run = await onboard(['start', '--help']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Usage: onboard start \[options\]/);
    for (const flag of ['--external-id <ID>', '--credits <N>', '--metadata <k=v>', '--wait', '--json'])
      expect(run.stdout).toContain(flag);
  });

  test('`--version` prints the package version; `help` and `help <command>` still work', async () => {
    expect(await onboard(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    const help = await onboard(['help']);
    expect(help.code).toBe(0);
    for (const command of [
      'start',
      'status',
      'result',
      'funded',
      'pause',
      'resume',
      'churn',
      'reactivate',
      'list',
      'import',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(help.stdout).toContain('Exit codes: 0 ok');
    const pauseHelp = await onboard(['help', 'pause']);
    expect(pauseHelp).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^Usage: onboard pause \[options\] <externalId>/),
    });
    // No command at all is a usage mistake: the help goes to stderr.
    expect(await onboard([])).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('Usage: onboard'),
    });
  });

  test('an unknown flag exits 2 naming the flag; --json gives the same as JSON', async () => {
    const run = await onboard(['pause', 'acme-coffee', '--frobnicate']);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain('pause: unknown option --frobnicate');
    expect(run.stderr).toContain('npm run onboard -- pause --help');

    const json = await onboard([
      'start',
      '--external-id',
      'a',
      '--name',
      'A',
      '--credits',
      '5',
      '--wiat',
      '--json',
    ]);
    expect(json).toMatchObject({ code: 2, stderr: '' });
    expect(jsonError(json)).toEqual({
      code: 'usage',
      message: 'start: unknown option --wiat (did you mean --wait?)',
      field: '--wiat',
    });
  });

  test('a missing required flag or argument exits 2, named, with "required"', async () => {
    const start = await onboard(['start', '--name', 'Acme Coffee', '--credits', '5000']);
    expect(start.code).toBe(2);
    expect(start.stderr).toMatch(/--external-id \(customer\.externalId\) is required/);

    const json = await onboard(['start', '--external-id', 'acme-coffee', '--credits', '5000', '--json']);
    expect(json.code).toBe(2);
    expect(jsonError(json)).toEqual({
      code: 'usage',
      message: expect.stringMatching(/--name .*is required/),
      field: '--name',
    });

    const status = await onboard(['status', '--json']);
    expect(status.code).toBe(2);
    expect(jsonError(status)).toEqual({
      code: 'usage',
      message: 'status: <externalId> is required',
      field: 'externalId',
    });
  });

  test('invalid input exits 2 with the field; an unreachable Temporal exits 5', async () => {
    const bad = await onboard([
      'start',
      '--external-id',
      'acme-coffee',
      '--name',
      'Acme',
      '--credits',
      '-5',
      '--json',
    ]);
    expect(bad.code).toBe(2);
    expect(jsonError(bad)).toEqual({
      code: 'invalid_input',
      message: 'invalid input: credits: credits must be greater than 0',
      field: 'credits',
    });

    const cursor = await onboard(['list', '--limit', '2', '--cursor', 'not a cursor!', '--json']);
    expect(cursor.code).toBe(2);
    expect(jsonError(cursor)).toMatchObject({ code: 'invalid_input', field: '--cursor' });

    const down = await onboard(['status', 'acme-coffee', '--json'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(down.code).toBe(5);
    expect(jsonError(down)).toEqual({
      code: 'unavailable',
      message: 'cannot reach Temporal at 127.0.0.1:1 (is the server running?)',
    });
  });
});

describe('CLI process against Temporal and the emulator', () => {
  let env: OnboardingTestEnv;
  let temporalEnv: Record<string, string>;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
    temporalEnv = {
      TEMPORAL_ADDRESS: env.temporal.address,
      TEMPORAL_NAMESPACE: env.temporal.namespace,
      TEMPORAL_TASK_QUEUE: env.taskQueue,
    };
  });
  afterAll(async () => env?.close());

  test('`status` of a customer nobody onboarded exits 3 (not_found)', async () => {
    const run = await onboard(['status', 'nobody-onboarded-this-one'], temporalEnv);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      'error: no such customer or onboarding running (customer/nobody-onboarded-this-one)',
    );
    const json = await onboard(['status', 'nobody-onboarded-this-one', '--json'], temporalEnv);
    expect(json.code).toBe(3);
    expect(jsonError(json)).toEqual({
      code: 'not_found',
      message: expect.stringContaining('customer/nobody-onboarded-this-one'),
    });
  });

  test('`list --limit 2 --cursor …` pages through the customers without repeats', async () => {
    const ids = await env.run(async () =>
      (await Promise.all([onboarded(env), onboarded(env), onboarded(env)])).map((c) => c.externalId),
    );
    const inClause = ids.map((id) => `'${id}'`).join(', ');
    // Visibility is eventually consistent: wait until it shows all three before paging.
    await eventually(async () => {
      const { count } = await env.temporal.client.workflow.count(
        `WorkflowType = 'customerLifecycle' AND LayersCustomerId IN (${inClause})`,
      );
      return count === 3;
    });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const run = await onboard(
        ['list', '--limit', '2', ...(cursor ? ['--cursor', cursor] : []), '--json'],
        temporalEnv,
      );
      expect(run).toMatchObject({ code: 0, stderr: '' });
      const page = JSON.parse(run.stdout) as {
        customers: Array<{ externalId: string; state?: string }>;
        nextCursor: string | null;
      };
      expect(page.customers.length).toBeLessThanOrEqual(2);
      if (page.nextCursor) expect(page.customers).toHaveLength(2);
      seen.push(...page.customers.map((c) => c.externalId));
      cursor = page.nextCursor ?? undefined;
      pages++;
      // The newest customers come first: ours are within the first pages even on a busy server.
    } while (cursor && !ids.every((id) => seen.includes(id)) && pages < 20);

    expect(pages).toBeGreaterThanOrEqual(2);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));

    const human = await onboard(['list', '--limit', '1'], temporalEnv);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^1 customer\nnext page: --cursor [A-Za-z0-9_-]+$/m);
  });

  test('`reactivate --wait` cancels a scheduled churn and prints the resulting state; with nothing to cancel it exits 1', async () => {
    await env.run(async () => {
      const { externalId, result } = await onboarded(env);
      const churn = await onboard(
        [
          'churn',
          externalId,
          '--effective-at',
          isoIn(3_600_000),
          '--reason',
          'non-renewal',
          '--wait',
          '--json',
        ],
        temporalEnv,
      );
      expect(churn.code).toBe(0);
      expect(JSON.parse(churn.stdout)).toMatchObject({
        state: 'offboarding',
        offboardingAt: expect.any(String),
      });

      const reactivated = await onboard(
        ['reactivate', externalId, '--reason', 'renewed', '--event-id', 'crm-react-1', '--wait', '--json'],
        temporalEnv,
      );
      expect(reactivated).toMatchObject({ code: 0, stderr: '' });
      const status = JSON.parse(reactivated.stdout) as {
        state: string;
        offboardingAt?: string;
        transitions: Array<{ reason: string }>;
      };
      expect(status).toMatchObject({ externalId, state: 'active', orgId: result.orgId });
      expect(status.offboardingAt).toBeUndefined();
      expect(status.transitions.at(-1)!.reason).toBe('reactivated: renewed');
      expect(orgsOf(await env.control.state(), externalId)[0].status).toBe('active');

      const again = await onboard(
        ['reactivate', externalId, '--event-id', 'crm-react-2', '--wait', '--json'],
        temporalEnv,
      );
      expect(again.code).toBe(1);
      expect(jsonError(again)).toEqual({
        code: 'failed',
        message: 'reactivate refused: no scheduled offboarding to cancel',
      });
      await untilState(env, externalId, 'active');
    });
  });
});

describe('CLI process: `funded` while an onboarding waits for funds', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 3000 } });
  });
  afterAll(async () => env?.close());

  test('`funded --json` signals the waiting onboarding, which then completes; after that it is not found (3)', async () => {
    const temporalEnv = {
      TEMPORAL_ADDRESS: env.temporal.address,
      TEMPORAL_NAMESPACE: env.temporal.namespace,
      TEMPORAL_TASK_QUEUE: env.taskQueue,
    };
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    await env.run(async () => {
      // A re-check an hour away: only the signal can end the wait within the test.
      await env.crm.start(request, {
        timing: { ...fastTiming, fundsRecheckMs: 3_600_000 },
        lifecycle: fastLifecycle,
      });
      await eventually(async () => (await env.crm.status(externalId)).waitingFor === 'waiting for funds');
      await env.control.topUp(10_000);

      const funded = await onboard(['funded', externalId, '--json'], temporalEnv);
      expect(funded).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(funded.stdout)).toEqual({ externalId, sent: 'parentFunded' });
      expect((await env.crm.result(externalId)).allocated).toBe(5000);
    });
    const history = await env.temporal.client.workflow
      .getHandle(onboardingWorkflowId(externalId))
      .fetchHistory();
    const signals = history.events!.filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'parentFunded',
    );
    expect(signals).toHaveLength(1);

    const late = await onboard(['funded', externalId, '--json'], temporalEnv);
    expect(late.code).toBe(3);
    expect(jsonError(late)).toMatchObject({ code: 'not_found' });
  });
});
