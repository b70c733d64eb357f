import { execFile } from 'node:child_process';
import path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { recordedTemporalCli } from '../../scripts/temporal-cli';
import {
  customerWorkflowId,
  offboardingWorkflowId,
  onboardingWorkflowId,
  suspendWorkflowId,
} from '../../common/ids';
import type { CustomerStatus } from '../../common/lifecycle-messages';
import { childrenOf, type EmulatorState } from '../helpers/emulator';
import {
  acmeCoffee,
  startOnboardingTestEnv,
  uniqueExternalId,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';
import { historyText } from './helpers';

// The workflows are the trust boundary: a CRM in another language (here the `temporal` CLI, not the
// TypeScript client and its early checks) starts them with whatever it likes. A start carrying key
// material or ids that do not match the workflow id fails at once, non-retryably, naming the field (never
// the value), before anything reaches Layers. The planted "keys" match the workflow's key-material rule
// but not the full secret shape the history scan (test/zz-history-scan.test.ts) looks for.

const PLANTED = 'lp_live_plantedByTest';
const PLANTED_UNDERSCORED = `x_${PLANTED}`;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function cli(args: string[], env: OnboardingTestEnv): Promise<{ ok: boolean; out: string }> {
  const binary = recordedTemporalCli();
  if (!binary) throw new Error('no temporal CLI: run `node scripts/install-temporal-cli.js` (npm test does)');
  const shellEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: env.temporal.address,
    TEMPORAL_NAMESPACE: env.temporal.namespace,
    TEMPORAL_CONFIG_FILE: path.join(process.env.TEST_TMP_DIR ?? '/nonexistent', 'no-temporal.toml'),
  };
  return new Promise((resolve) => {
    execFile(binary, args, { env: shellEnv, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: `${stdout}${stderr}` }),
    );
  });
}

async function cliStart(
  env: OnboardingTestEnv,
  type: string,
  workflowId: string,
  input: unknown[],
): Promise<void> {
  const inputs = input.flatMap((arg) => ['--input', JSON.stringify(arg)]);
  const started = await cli(
    [
      'workflow',
      'start',
      '--type',
      type,
      '--task-queue',
      env.taskQueue,
      '--workflow-id',
      workflowId,
      ...inputs,
    ],
    env,
  );
  expect(started).toMatchObject({ ok: true });
}

/** What Layers holds that a start could have created. */
function footprint(state: EmulatorState) {
  return {
    orgs: state.organizations.length,
    transfers: state.transfers.length,
    apiKeys: state.apiKeys.length,
    projects: state.projects.length,
    webhooks: state.webhookEndpoints.length,
    writes: Object.entries(state.requests.byRoute)
      .filter(([route]) => !route.startsWith('GET'))
      .reduce((sum, [, byStatus]) => sum + Object.values(byStatus).reduce((a, b) => a + b, 0), 0),
  };
}

interface Refused {
  type: string | null | undefined;
  nonRetryable: boolean | null | undefined;
  message: string;
  events: HistoryEvent[];
}

/** Waits for the run to close and returns its failure as recorded in history. */
async function failureOf(env: OnboardingTestEnv, workflowId: string): Promise<Refused> {
  const handle = env.temporal.client.workflow.getHandle(workflowId);
  await expect(handle.result()).rejects.toThrow();
  const description = await handle.describe();
  expect(description.status.name).toBe('FAILED');
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const failed = events.find(
    (e) => e.workflowExecutionFailedEventAttributes,
  )?.workflowExecutionFailedEventAttributes;
  expect(failed).toBeDefined();
  // One attempt: no retry run follows, and the workflow task itself did not fail (and retry) first.
  expect(failed!.newExecutionRunId ?? '').toBe('');
  expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toHaveLength(0);
  expect(
    events.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes
      ?.attempt,
  ).toBe(1);
  // Nothing was scheduled or started that could reach Layers.
  expect(
    events.filter(
      (e) => e.activityTaskScheduledEventAttributes || e.startChildWorkflowExecutionInitiatedEventAttributes,
    ),
  ).toHaveLength(0);
  return {
    type: failed!.failure?.applicationFailureInfo?.type,
    nonRetryable: failed!.failure?.applicationFailureInfo?.nonRetryable,
    message: failed!.failure?.message ?? '',
    events,
  };
}

/** History written by the workflow itself (not the caller's start or signals): the refusal must not copy the value. */
function writtenByWorkflow(events: HistoryEvent[]): string {
  return historyText(
    events.filter(
      (e) => !e.workflowExecutionStartedEventAttributes && !e.workflowExecutionSignaledEventAttributes,
    ),
  );
}

describe('the workflows are the trust boundary: starts from the temporal CLI', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  const customerCases: Array<{
    name: string;
    build: (id: string) => { workflowId: string; input: unknown };
    field: string;
  }> = [
    {
      name: 'lp_live_… in customer.metadata',
      field: 'onboarding.request.customer.metadata.crmNote',
      build: (id) => {
        const request = acmeCoffee(id);
        request.customer.metadata = { crmNote: `key is ${PLANTED}` };
        return { workflowId: customerWorkflowId(id), input: { externalId: id, onboarding: { request } } };
      },
    },
    {
      name: 'x_lp_live_… in customer.name',
      field: 'onboarding.request.customer.name',
      build: (id) => {
        const request = acmeCoffee(id);
        request.customer.name = PLANTED_UNDERSCORED;
        return { workflowId: customerWorkflowId(id), input: { externalId: id, onboarding: { request } } };
      },
    },
    {
      name: "request.customer.externalId is another customer's",
      field: 'onboarding.request.customer.externalId',
      build: (id) => ({
        workflowId: customerWorkflowId(id),
        input: { externalId: id, onboarding: { request: acmeCoffee(`${id}-victim`) } },
      }),
    },
    {
      name: "the input externalId is another customer's",
      field: 'externalId',
      build: (id) => ({
        workflowId: customerWorkflowId(id),
        input: { externalId: `${id}-victim`, onboarding: { request: acmeCoffee(`${id}-victim`) } },
      }),
    },
    {
      name: 'carried state on a first start (it would skip onboarding)',
      field: 'carried',
      build: (id) => ({
        workflowId: customerWorkflowId(id),
        input: {
          externalId: id,
          carried: {
            status: {
              externalId: id,
              state: 'active',
              orgSuspended: false,
              churnPending: false,
              transitions: [],
              refused: [],
            },
            seenEventIds: [],
          },
        },
      }),
    },
  ];

  test.each(customerCases)(
    'customerLifecycle with $name fails non-retryably naming $field, and Layers is untouched',
    async ({ build, field }) => {
      const id = uniqueExternalId('boundary');
      const { workflowId, input } = build(id);
      const before = footprint(await env.control.state());
      const refused = await env.run(async () => {
        await cliStart(env, 'customerLifecycle', workflowId, [input]);
        return failureOf(env, workflowId);
      });
      expect(refused).toMatchObject({ type: 'InvalidWorkflowInput', nonRetryable: true });
      expect(refused.message).toContain(`${field}:`);
      expect(refused.message).not.toContain(PLANTED);
      expect(writtenByWorkflow(refused.events)).not.toContain(PLANTED);
      const after = await env.control.state();
      expect(footprint(after)).toEqual(before);
      expect(
        childrenOf(after).filter((o: { metadata?: Record<string, string> }) =>
          o.metadata?.externalId?.startsWith(id),
        ),
      ).toEqual([]);
    },
    120_000,
  );

  const onboardingCases: Array<{
    name: string;
    build: (id: string) => { workflowId: string; args: unknown[] };
    field: string;
    type: string;
  }> = [
    {
      name: 'lp_live_… in customer.metadata',
      field: 'customer.metadata.crmNote',
      type: 'InvalidOnboardingInput',
      build: (id) => {
        const request = acmeCoffee(id);
        request.customer.metadata = { crmNote: PLANTED };
        return { workflowId: onboardingWorkflowId(id), args: [request] };
      },
    },
    {
      name: 'x_lp_live_… in customer.name',
      field: 'customer.name',
      type: 'InvalidOnboardingInput',
      build: (id) => {
        const request = acmeCoffee(id);
        request.customer.name = PLANTED_UNDERSCORED;
        return { workflowId: onboardingWorkflowId(id), args: [request] };
      },
    },
    {
      name: "customer.externalId is another customer's",
      field: 'customer.externalId',
      type: 'InvalidOnboardingInput',
      build: (id) => ({ workflowId: onboardingWorkflowId(id), args: [acmeCoffee(`${id}-victim`)] }),
    },
    {
      name: 'a private firehose URL',
      field: 'firehose.url',
      type: 'InvalidOnboardingInput',
      build: (id) => ({
        workflowId: onboardingWorkflowId(id),
        args: [
          {
            ...acmeCoffee(id),
            firehose: { url: 'https://169.254.169.254/latest', events: ['content.generated'] },
          },
        ],
      }),
    },
    {
      name: 'options.continued on a first start (it would skip validation)',
      field: 'options.continued',
      type: 'InvalidWorkflowInput',
      build: (id) => {
        const request = acmeCoffee(id);
        request.customer.metadata = { crmNote: PLANTED };
        return {
          workflowId: onboardingWorkflowId(id),
          args: [request, { continued: { input: request, steps: [], keyIssuedAt: {}, runs: 1 } }],
        };
      },
    },
  ];

  test.each(onboardingCases)(
    'onboardCustomer with $name fails non-retryably naming $field, and Layers is untouched',
    async ({ build, field, type }) => {
      const id = uniqueExternalId('boundary');
      const { workflowId, args } = build(id);
      const before = footprint(await env.control.state());
      const refused = await env.run(async () => {
        await cliStart(env, 'onboardCustomer', workflowId, args);
        return failureOf(env, workflowId);
      });
      expect(refused).toMatchObject({ type, nonRetryable: true });
      expect(refused.message).toContain(`${field}:`);
      expect(refused.message).not.toContain(PLANTED);
      expect(writtenByWorkflow(refused.events)).not.toContain(PLANTED);
      expect(footprint(await env.control.state())).toEqual(before);
    },
    120_000,
  );

  test.each([
    {
      kind: 'suspendCustomer',
      workflowId: (id: string) => suspendWorkflowId(`${id}-victim`, 1),
      reason: 'billing hold',
      field: 'externalId',
    },
    {
      kind: 'offboardCustomer',
      workflowId: (id: string) => offboardingWorkflowId(`${id}-victim`),
      reason: 'churned',
      field: 'externalId',
    },
    {
      kind: 'suspendCustomer',
      workflowId: (id: string) => suspendWorkflowId(id, 1),
      reason: PLANTED,
      field: 'reason',
    },
    {
      kind: 'offboardCustomer',
      workflowId: (id: string) => offboardingWorkflowId(id),
      reason: PLANTED,
      field: 'reason',
    },
  ])(
    '$kind started directly with a bad $field fails before touching the org',
    async ({ kind, workflowId, reason, field }) => {
      const id = uniqueExternalId('boundary');
      const before = footprint(await env.control.state());
      const wid = workflowId(id);
      const refused = await env.run(async () => {
        await cliStart(env, kind, wid, [{ externalId: id, orgId: 'org_someone_else', reason }]);
        return failureOf(env, wid);
      });
      expect(refused).toMatchObject({ type: 'InvalidWorkflowInput', nonRetryable: true });
      expect(refused.message).toContain(`${field}:`);
      expect(refused.message).not.toContain(PLANTED);
      expect(footprint(await env.control.state())).toEqual(before);
    },
    120_000,
  );

  test('a pause whose reason carries key material is refused by name and not applied; the update is rejected', async () => {
    const id = uniqueExternalId('boundary-live');
    const workflowId = customerWorkflowId(id);
    const handle = env.temporal.client.workflow.getHandle(workflowId);
    await env.run(async () => {
      await cliStart(env, 'customerLifecycle', workflowId, [
        { externalId: id, onboarding: { request: acmeCoffee(id) } },
      ]);
      const active = await eventually(
        async () => {
          const status = await handle.query<CustomerStatus>('status');
          return status.state === 'active' && status;
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );
      const pause = { reason: `paused, key ${PLANTED}`, eventId: `${id}-pause-1` };
      expect(
        await cli(
          [
            'workflow',
            'signal',
            '--workflow-id',
            workflowId,
            '--name',
            'pause',
            '--input',
            JSON.stringify(pause),
          ],
          env,
        ),
      ).toMatchObject({ ok: true });
      const status = await eventually(
        async () => {
          const s = await handle.query<CustomerStatus>('status');
          return s.refused.some((r) => r.eventId === pause.eventId) && s;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const refusal = status.refused.find((r) => r.eventId === pause.eventId)!;
      expect(refusal.why).toContain('request.reason:');
      expect(refusal.why).not.toContain(PLANTED);
      expect(status).toMatchObject({ state: 'active', orgSuspended: false });
      expect(JSON.stringify(status.transitions)).not.toContain(PLANTED);

      // The update form is rejected by its validator: nothing of it reaches history.
      const update = await cli(
        [
          'workflow',
          'update',
          'execute',
          '--workflow-id',
          workflowId,
          '--name',
          'pauseCustomer',
          '--input',
          JSON.stringify({ ...pause, eventId: `${id}-pause-2` }),
        ],
        env,
      );
      expect(update.ok).toBe(false);
      expect(update.out).toContain('request.reason');
      expect(update.out).not.toContain(PLANTED);

      // The org in Layers was never suspended.
      const org = childrenOf(await env.control.state()).find((o: { id: string }) => o.id === active.orgId);
      expect(org?.status).toBe('active');
      const events = (await handle.fetchHistory()).events ?? [];
      expect(writtenByWorkflow(events)).not.toContain(PLANTED);
      expect(
        events.filter(
          (e) =>
            e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name === 'suspendCustomer',
        ),
      ).toHaveLength(0);
      await handle.terminate('test done');
    });
  }, 180_000);
});
