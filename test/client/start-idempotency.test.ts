import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OnboardingConflictError } from '../../client/errors';
import { MEMO_IDEMPOTENCY_KEY, MEMO_REQUEST_HASH, requestHash } from '../../common/request-hash';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { runCli } from '../helpers/processes';

// Issue 13: `start` in the library and the CLI take the CRM's event id and refuse a different body for
// a running onboarding instead of attaching silently. No worker runs: the refusal is decided by the
// client against what Temporal holds (the memo and the start event), before anything is started.

describe('start: same body attaches, a different body is refused', () => {
  let env: OnboardingTestEnv;
  const started: string[] = [];
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => {
    for (const externalId of started)
      await env.crm
        .customerHandle(externalId)
        .terminate('test done')
        .catch(() => undefined);
    await env?.close();
  });

  test('library: twice with the same body attaches; another credits → OnboardingConflictError naming credits', async () => {
    const request = acmeCoffee();
    const { externalId } = request.customer;
    started.push(externalId);
    const first = await env.crm.start(request, { eventId: 'deal-won-1' });
    expect(first.started).toBe(true);
    const memo = (await env.crm.customerHandle(externalId).describe()).memo;
    expect(memo).toMatchObject({
      [MEMO_REQUEST_HASH]: requestHash(request),
      [MEMO_IDEMPOTENCY_KEY]: 'deal-won-1',
    });

    // Key order does not matter, only content.
    const { credits, ...rest } = request;
    const reordered = JSON.parse(JSON.stringify({ credits, ...rest })) as typeof request;
    const again = await env.crm.start(reordered, { eventId: 'deal-won-1' });
    expect(again).toEqual({ ...first, started: false });

    const different = { ...request, credits: request.credits + 1000 };
    const refused = await env.crm.start(different, { eventId: 'deal-won-2' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OnboardingConflictError);
    expect((refused as OnboardingConflictError).fields).toEqual(['credits']);
    expect((refused as OnboardingConflictError).message).toMatch(/different request.*credits/);
    // Nothing attached or restarted: still the first run, still the first body on record.
    const after = await env.crm.customerHandle(externalId).describe();
    expect(after.runId).toBe(first.runId);
    expect(after.memo?.[MEMO_REQUEST_HASH]).toBe(requestHash(request));
  });

  test('a run started without the memo (older client) is compared by its start input', async () => {
    const request = acmeCoffee();
    const { externalId } = request.customer;
    started.push(externalId);
    await env.temporal.client.workflow.start('customerLifecycle', {
      workflowId: `customer/${externalId}`,
      taskQueue: env.taskQueue,
      args: [{ externalId, onboarding: { request } }],
    });
    await expect(env.crm.start(request)).resolves.toMatchObject({ started: false });
    await expect(
      env.crm.start({ ...request, customer: { ...request.customer, name: 'Acme Tea' } }),
    ).rejects.toMatchObject({ name: 'OnboardingConflictError', fields: ['customer.name'] });
  });

  test('CLI: `start --event-id` repeats attach (exit 0); a different body exits 4 with --json code conflict', async () => {
    const request = acmeCoffee();
    const { externalId } = request.customer;
    started.push(externalId);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'start-idem-'));
    const file = path.join(dir, 'request.json');
    writeFileSync(file, JSON.stringify(request));
    const temporalEnv = {
      TEMPORAL_ADDRESS: env.temporal.address,
      TEMPORAL_NAMESPACE: env.temporal.namespace,
      TEMPORAL_TASK_QUEUE: env.taskQueue,
    };
    const first = await runCli(['start', '--input', file, '--event-id', 'crm-evt-1', '--json'], temporalEnv);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ externalId, started: true });
    const repeat = await runCli(['start', '--input', file, '--event-id', 'crm-evt-1', '--json'], temporalEnv);
    expect(repeat.code).toBe(0);
    expect(JSON.parse(repeat.stdout)).toMatchObject({ externalId, started: false });
    expect((await env.crm.customerHandle(externalId).describe()).memo?.[MEMO_IDEMPOTENCY_KEY]).toBe(
      'crm-evt-1',
    );

    const conflict = await runCli(
      ['start', '--input', file, '--credits', '7000', '--event-id', 'crm-evt-2', '--json'],
      temporalEnv,
    );
    expect(conflict.code).toBe(4);
    expect(JSON.parse(conflict.stdout)).toEqual({
      error: { code: 'conflict', message: expect.stringMatching(/differs in: credits/), field: 'credits' },
    });
    const plain = await runCli(['start', '--input', file, '--credits', '7000'], temporalEnv);
    expect(plain.code).toBe(4);
    expect(plain.stderr).toMatch(/already being onboarded .* with a different request.*credits/);
  });
});
