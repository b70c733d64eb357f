import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailureType } from '../../common/failure-types';
import { customerWorkflowId } from '../../common/ids';
import type { CustomerStatus } from '../../common/lifecycle-messages';
import { externalIdSchema } from '../../common/onboarding-input';
import {
  DRIFT_KINDS,
  REPAIRABLE,
  manualReconcileWorkflowId,
  type ReconcileReport,
} from '../../common/reconcile';
import { LayersCustomerId } from '../../common/search-attributes';
import type { customerLifecycle } from '../../workflows/customer';
import type { reconcile } from '../../workflows/reconcile';
import { CustomerArchivedError } from '../errors';
import type { OnboardingClient } from '../onboarding-client';
import { JSON_OPTION, UsageError, type OptionSpecs } from './args';

export const RECONCILE_OPTIONS = {
  wait: { type: 'boolean', description: 'wait for the scan to finish and print its report' },
  ...JSON_OPTION,
} as const satisfies OptionSpecs;

export const RECONCILE_DESCRIPTION =
  'compare every Layers child org with the customer workflows now and report drift (repairs nothing)';

export const REPAIR_DESCRIPTION = `repair one reported drift item explicitly: ${Object.entries(REPAIRABLE)
  .map(([kind, drift]) => `"${kind} <externalId>" (${drift})`)
  .join(', ')}; other drift kinds are reported only`;

/** How long `repair adopt` waits for the customer workflow to find its org. */
const ADOPT_WAIT_MS = 60_000;

function printReport(report: ReconcileReport): void {
  console.log(
    `Reconciliation ${report.startedAt} → ${report.finishedAt}: ${report.total === 0 ? 'no drift' : `${report.total} drift item(s)`}` +
      ` (${report.scanned.organizations} child orgs, ${report.scanned.customers} matched customers, ${report.scanned.wallets} wallets;` +
      ` firehose ${report.firehoseUrl ?? 'not configured'})`,
  );
  for (const kind of DRIFT_KINDS) {
    if (report.counts[kind] === 0) continue;
    console.log(`${kind}: ${report.counts[kind]}`);
    for (const item of report.items[kind]) {
      console.log(`  ${item.externalId ?? '-'}\t${item.orgId ?? '-'}\t${item.detail}`);
    }
    const hidden = report.counts[kind] - report.items[kind].length;
    if (hidden > 0) console.log(`  … ${hidden} more not listed`);
  }
}

/** `onboard reconcile [--wait] [--json]`: a reconcile run now, beside the nightly schedule's. */
export async function reconcileCommand(
  values: { wait?: boolean; json?: boolean },
  client: () => Promise<OnboardingClient>,
): Promise<number> {
  const crm = await client();
  const workflowId = manualReconcileWorkflowId(new Date());
  const handle = await crm.client.workflow.start<typeof reconcile>('reconcile', {
    workflowId,
    taskQueue: crm.taskQueue,
    args: [{}],
    staticSummary: 'Reconciliation (started from the CLI)',
  });
  if (!values.wait) {
    if (values.json) console.log(JSON.stringify({ workflowId, runId: handle.firstExecutionRunId }));
    else console.log(`Started reconciliation ${workflowId}; --wait prints its report (also in the Web UI)`);
    return 0;
  }
  const report = await handle.result();
  if (values.json) console.log(JSON.stringify({ workflowId, ...report }, null, 2));
  else printReport(report);
  return 0;
}

function isCustomerNotFound(err: unknown): boolean {
  for (let e = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure && e.type === WorkflowFailureType.customerNotFound) return true;
  }
  return false;
}

/**
 * `onboard repair adopt <externalId>`: starts the customer workflow without onboarding input, so it
 * adopts the child org whose metadata.externalId matches (README, "Ids and reuse policies") — what a
 * CRM signal-with-start does, without a request to apply. A running customer is left alone.
 */
export async function repairCommand(
  kind: string,
  externalId: string,
  values: { json?: boolean },
  client: () => Promise<OnboardingClient>,
): Promise<number> {
  if (!(kind in REPAIRABLE)) {
    throw new UsageError(
      `repair: unknown repair "${kind}"; only ${Object.keys(REPAIRABLE).join(', ')} exists (other drift kinds are reported only)`,
      'kind',
      'repair',
    );
  }
  if (!externalIdSchema.safeParse(externalId).success) {
    throw new UsageError(
      `repair: externalId "${externalId}" is not a valid externalId`,
      'externalId',
      'repair',
    );
  }
  const crm = await client();
  const workflowId = customerWorkflowId(externalId);
  const existing = await crm.client.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.status.name)
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
  if (existing === 'COMPLETED') throw new CustomerArchivedError(externalId);
  const handle = await crm.client.workflow.start<typeof customerLifecycle>('customerLifecycle', {
    workflowId,
    taskQueue: crm.taskQueue,
    args: [{ externalId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    typedSearchAttributes: [{ key: LayersCustomerId, value: externalId }],
    staticSummary: `Customer ${externalId}`,
  });
  const started = existing !== 'RUNNING';
  // Wait until the workflow has found the org (or failed to): its status names the org it adopted.
  const deadline = Date.now() + ADOPT_WAIT_MS;
  let status: CustomerStatus | undefined;
  for (;;) {
    const described = await handle.describe();
    if (described.status.name === 'FAILED') {
      try {
        await handle.result();
      } catch (err) {
        if (err instanceof WorkflowFailedError && isCustomerNotFound(err)) {
          throw new WorkflowNotFoundError(
            `no child org with metadata.externalId "${externalId}" to adopt`,
            workflowId,
            undefined,
          );
        }
        throw err;
      }
    }
    if (described.status.name === 'COMPLETED') throw new CustomerArchivedError(externalId);
    status = await handle.query<CustomerStatus>('status').catch(() => undefined);
    if (status?.orgId || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const outcome = {
    externalId,
    workflowId,
    adopted: started,
    orgId: status?.orgId ?? null,
    state: status?.state ?? null,
  };
  if (values.json) console.log(JSON.stringify(outcome, null, 2));
  else if (!started)
    console.log(`Customer ${externalId} already has a running workflow (${workflowId}); nothing to adopt`);
  else
    console.log(
      `Adopted ${externalId}: org ${outcome.orgId ?? '(not found yet)'}, state ${outcome.state ?? 'unknown'} (${workflowId})`,
    );
  return 0;
}
