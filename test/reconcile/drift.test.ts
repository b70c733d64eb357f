import { randomUUID } from 'node:crypto';
import { LayersCustomerId, LayersLifecycleState, LayersOrgId } from '../../common/search-attributes';
import type { customerLifecycle } from '../../workflows/customer';
import { DRIFT_KINDS, walletShortfall, type DriftKind, type ReconcileReport } from '../../common/reconcile';
import { customerWorkflowId } from '../../common/ids';
import {
  PARTNER_FIREHOSE,
  startOnboardingTestEnv,
  uniqueExternalId,
  type OnboardingTestEnv,
} from '../helpers/onboarding-env';
import { onboarded, untilState, walletOf } from '../lifecycle/helpers';
import { onboard, reconcileNow, reconcileWorker } from './helpers';

// Drift is made behind the orchestrator's back — straight through the Layers API with the parent key —
// and the reconcile workflow, run against the real dev server and the emulator, must list exactly it.

// The partner firehose is worker configuration (LAYERS_FIREHOSE_URL): onboarding ensures its endpoint.
const FIREHOSE_URL = PARTNER_FIREHOSE.url;

function counts(partial: Partial<Record<DriftKind, number>>): Record<DriftKind, number> {
  return Object.fromEntries(DRIFT_KINDS.map((kind) => [kind, partial[kind] ?? 0])) as Record<
    DriftKind,
    number
  >;
}

function itemKeys(report: ReconcileReport, kind: DriftKind) {
  return report.items[kind].map((i) => ({ externalId: i.externalId, orgId: i.orgId }));
}

describe('reconcile: drift made outside the orchestrator is reported exactly', () => {
  let env: OnboardingTestEnv;

  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
  });
  afterAll(async () => {
    await env?.close();
  });

  test('archived, suspended, orphan org, missing firehose — then repair adopt, then a clean report', async () => {
    let archived!: Awaited<ReturnType<typeof onboarded>>;
    let suspended!: Awaited<ReturnType<typeof onboarded>>;
    let spender!: Awaited<ReturnType<typeof onboarded>>;
    const orphanId = uniqueExternalId('orphan');
    let orphanOrgId = '';
    let unlabelledOrgId = '';
    const ghostId = uniqueExternalId('ghost');
    const ghostOrgId = `org_${randomUUID()}`;

    // Three customers onboarded by a worker with the partner firehose, which ensures its endpoint…
    await (
      await reconcileWorker(env, { firehose: PARTNER_FIREHOSE })
    ).runUntil(async () => {
      [archived, suspended, spender] = await Promise.all([onboarded(env), onboarded(env), onboarded(env)]);
    });

    // …then a worker whose LAYERS_FIREHOSE_URL was changed to an endpoint nobody created (no onboarding since).
    const missingFirehose = 'https://quinns-crm.example.com/layers/other-webhooks';
    await (
      await reconcileWorker(env, { firehose: { ...PARTNER_FIREHOSE, url: missingFirehose } })
    ).runUntil(async () => {
      // A clean start: three customers, three orgs, nothing to report except the firehose.
      const clean = await reconcileNow(env);
      expect(clean.report.counts).toEqual(counts({ 'missing-firehose-endpoint': 1 }));
      // Visibility counts as many running customers as the org scan matched: no org is looked up one by one.
      expect(clean.report.scanned).toEqual({
        organizations: 3,
        customers: 3,
        runningCustomers: 3,
        customersChecked: 0,
        wallets: 3,
        pages: 1,
      });

      // Ordinary spending is not drift: usage settles, the cap's auto-refill tops the wallet up.
      const reserved = (await env.control.usage(spender.result.orgId, 'reserve', 4_500)) as {
        autoRefill: unknown;
      };
      const settled = (await env.control.usage(spender.result.orgId, 'settle', 4_500)) as {
        autoRefill: unknown;
      };
      expect(reserved.autoRefill ?? settled.autoRefill).not.toBeNull();

      // Behind the orchestrator's back, with the parent key.
      await env.layers.archiveOrganization(archived.result.orgId);
      await env.layers.suspendOrganization(suspended.result.orgId);
      orphanOrgId = (
        await env.layers.createOrganization({ name: 'Orphan Coffee', metadata: { externalId: orphanId } })
      ).id;
      unlabelledOrgId = (await env.layers.createOrganization({ name: 'Made by hand' })).id;
      // A customer record naming an org this Layers account does not have (restored from elsewhere, say):
      // its workflow exists (its first task is not due for an hour, so nothing here runs it).
      const ghost = await env.temporal.client.workflow.start<typeof customerLifecycle>('customerLifecycle', {
        workflowId: customerWorkflowId(ghostId),
        taskQueue: env.taskQueue,
        args: [{ externalId: ghostId }],
        startDelay: '1 hour',
        typedSearchAttributes: [
          { key: LayersCustomerId, value: ghostId },
          { key: LayersOrgId, value: ghostOrgId },
          { key: LayersLifecycleState, value: 'active' },
        ],
      });

      const { report, workflowId } = await reconcileNow(env);
      expect(report.counts).toEqual(
        counts({
          'org-without-customer': 2,
          'customer-org-archived': 1,
          'customer-org-suspended': 1,
          'customer-org-missing': 1,
          'missing-firehose-endpoint': 1,
        }),
      );
      expect(report.total).toBe(6);
      expect(report.truncated).toBe(false);
      expect(
        itemKeys(report, 'org-without-customer').sort((a, b) => a.orgId!.localeCompare(b.orgId!)),
      ).toEqual(
        [
          { externalId: orphanId, orgId: orphanOrgId },
          { externalId: undefined, orgId: unlabelledOrgId },
        ].sort((a, b) => a.orgId.localeCompare(b.orgId)),
      );
      expect(itemKeys(report, 'customer-org-archived')).toEqual([
        { externalId: archived.externalId, orgId: archived.result.orgId },
      ]);
      expect(itemKeys(report, 'customer-org-suspended')).toEqual([
        { externalId: suspended.externalId, orgId: suspended.result.orgId },
      ]);
      expect(itemKeys(report, 'customer-org-missing')).toEqual([{ externalId: ghostId, orgId: ghostOrgId }]);
      expect(report.items['missing-firehose-endpoint'][0]!.detail).toContain(missingFirehose);
      // Five orgs, three with their customer; wallets read for the two not archived (one of them suspended).
      // The ghost makes visibility count one running customer more than the scan matched: all four are looked up.
      expect(report.scanned).toMatchObject({
        organizations: 5,
        customers: 3,
        runningCustomers: 4,
        customersChecked: 4,
        wallets: 2,
      });
      await ghost.terminate('test over');
      expect(report.firehoseUrl).toBe(missingFirehose);

      // The Web UI's current details carry the same table.
      const metadata = await env.temporal.client.workflow
        .getHandle(workflowId)
        .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toContain('| customer-org-archived | 1 |');
      expect(metadata.currentDetails).toContain(orphanId);

      // Reporting repaired nothing: the emulator is as the test left it.
      const state = await env.control.state();
      const statusOf = (id: string) => state.organizations.find((o: { id: string }) => o.id === id)?.status;
      expect([
        statusOf(archived.result.orgId),
        statusOf(suspended.result.orgId),
        statusOf(orphanOrgId),
      ]).toEqual(['archived', 'suspended', 'active']);
      expect(walletOf(state, spender.result.orgId).balance).toBe(5_000 - 4_500 + 2_000);
    });

    // The explicit repair: adopt the orphan (its customer workflow starts and finds the org), through the CLI.
    await (
      await reconcileWorker(env, { firehose: PARTNER_FIREHOSE })
    ).runUntil(async () => {
      const repaired = await onboard(env, ['repair', 'adopt', orphanId, '--json']);
      expect(repaired).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(repaired.stdout)).toMatchObject({
        externalId: orphanId,
        adopted: true,
        orgId: orphanOrgId,
        state: 'active',
      });
      await untilState(env, orphanId, 'active');

      const nobody = await onboard(env, ['repair', 'adopt', uniqueExternalId('nobody'), '--json']);
      expect(nobody.code).toBe(3);
      expect(JSON.parse(nobody.stdout).error).toMatchObject({ code: 'not_found' });

      const unknownRepair = await onboard(env, ['repair', 'resume', orphanId, '--json']);
      expect(unknownRepair.code).toBe(2);
      expect(JSON.parse(unknownRepair.stdout).error).toMatchObject({ code: 'usage', field: 'kind' });

      const cli = await onboard(env, ['reconcile', '--wait', '--json']);
      expect(cli).toMatchObject({ code: 0, stderr: '' });
      const report = JSON.parse(cli.stdout) as ReconcileReport & { workflowId: string };
      expect(report.workflowId).toMatch(/^reconcile\/manual\//);
      expect(report.counts).toEqual(
        counts({ 'org-without-customer': 1, 'customer-org-archived': 1, 'customer-org-suspended': 1 }),
      );
      expect(itemKeys(report, 'org-without-customer')).toEqual([
        { externalId: undefined, orgId: unlabelledOrgId },
      ]);
      expect(report.firehoseUrl).toBe(FIREHOSE_URL);
      expect(report.scanned).toMatchObject({ organizations: 5, customers: 4 });

      const started = await onboard(env, ['reconcile', '--json']);
      expect(started.code).toBe(0);
      const { workflowId: startedId } = JSON.parse(started.stdout) as { workflowId: string };
      expect(startedId).toMatch(/^reconcile\/manual\//);
      await env.temporal.client.workflow.getHandle(startedId).result();

      const human = await onboard(env, ['reconcile', '--wait']);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain('customer-org-archived: 1');
      expect(human.stdout).toContain(archived.externalId);

      // The adopted customer is a customer like any other.
      const adopted = await env.temporal.client.workflow.getHandle(customerWorkflowId(orphanId)).describe();
      expect(adopted.status.name).toBe('RUNNING');
    });
  });

  test('the report stays bounded: exact counts, at most maxItemsPerKind items', async () => {
    await (
      await reconcileWorker(env)
    ).runUntil(async () => {
      for (let i = 0; i < 4; i++) await env.layers.createOrganization({ name: `Stray ${i}` });
      const { report } = await reconcileNow(env, { maxItemsPerKind: 2, checkWallets: false });
      expect(report.counts['org-without-customer']).toBe(5); // four strays and the unlabelled org above
      expect(report.items['org-without-customer']).toHaveLength(2);
      expect(report.truncated).toBe(true);
      expect(report.scanned.wallets).toBe(0);
      // LAYERS_FIREHOSE_URL unset: the check is skipped, not failed.
      expect(report.firehoseUrl).toBeNull();
      expect(report.counts['missing-firehose-endpoint']).toBe(0);
    });
  });
});

describe('wallet-below-allocated: balance + spent must cover what was allocated', () => {
  test('ordinary allocation, usage and refill balance out; credits leaving otherwise are a shortfall', () => {
    const ledger = [
      { eventType: 'allocation', credits: 5_000 },
      { eventType: 'usage', credits: -4_500 },
      { eventType: 'allocation', credits: 2_000 }, // auto-refill
      { eventType: 'refund', credits: 100 },
    ];
    expect(walletShortfall(2_600, ledger)).toEqual({ allocated: 7_000, spent: 4_400, shortfall: 0 });
    // 1,000 credits transferred out of a live child (or a negative adjustment): the wallet is short.
    expect(walletShortfall(1_600, [...ledger, { eventType: 'allocation', credits: -1_000 }])).toEqual({
      allocated: 7_000,
      spent: 4_400,
      shortfall: 1_000,
    });
  });
});
