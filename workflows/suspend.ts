import { condition, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import { layersActivities, whileKillSwitchWaits } from './layers-activities';
import { type CustomerWorkflowTiming } from '../common/lifecycle-messages';
import { endSuspensionSignal, orgSuspendedSignal } from './internal-messages';
import { refuseInvalidChildInput } from './child-input';

export interface SuspendInput {
  externalId: string;
  orgId: string;
  reason: string;
  /** ISO time at which the suspension lifts by itself. */
  until?: string;
  timing?: CustomerWorkflowTiming;
}

export interface SuspendResult {
  /** The org was resumed by this workflow (timer or request); false when a churn ended the suspension. */
  resumed: boolean;
  endedBy: 'timer' | 'resume' | 'churn';
  endedAt: string;
}

/**
 * One pause of one customer, as its own execution: suspends the child org, then holds the suspension
 * until `until` passes, a resume arrives, or a churn ends it without resuming.
 */
export async function suspendCustomer(input: SuspendInput): Promise<SuspendResult> {
  refuseInvalidChildInput('suspend', input);
  const { writes, write } = layersActivities();
  let ending: { resume: boolean } | undefined;
  setHandler(endSuspensionSignal, ({ resume }) => {
    ending ??= { resume };
  });
  const backoffMs = input.timing?.killSwitchBackoffMs;

  await whileKillSwitchWaits(
    () =>
      writes.suspendOrganization.executeWithOptions(write(`Suspend ${input.orgId} (${input.externalId})`), [
        { orgId: input.orgId },
      ]),
    { backoffMs },
  );
  const parent = workflowInfo().parent;
  // The parent may have closed meanwhile (terminated, say): then nobody waits for this, and the
  // suspension itself must still be held and lifted as asked.
  if (parent)
    await getExternalWorkflowHandle(parent.workflowId)
      .signal(orgSuspendedSignal, { orgId: input.orgId })
      .catch(() => undefined);

  let endedBy: SuspendResult['endedBy'];
  if (input.until) {
    const timedOut = !(await condition(
      () => ending !== undefined,
      Math.max(0, Date.parse(input.until) - Date.now()),
    ));
    endedBy = timedOut ? 'timer' : ending!.resume ? 'resume' : 'churn';
  } else {
    await condition(() => ending !== undefined);
    endedBy = ending!.resume ? 'resume' : 'churn';
  }
  if (endedBy === 'churn') return { resumed: false, endedBy, endedAt: new Date().toISOString() };

  await whileKillSwitchWaits(
    () =>
      writes.resumeOrganization.executeWithOptions(write(`Resume ${input.orgId} (${input.externalId})`), [
        { orgId: input.orgId },
      ]),
    { backoffMs },
  );
  return { resumed: true, endedBy, endedAt: new Date().toISOString() };
}
