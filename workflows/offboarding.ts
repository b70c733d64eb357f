import { condition, patched, setHandler, sleep } from '@temporalio/workflow';
import { layersActivities, whileKillSwitchWaits } from './layers-activities';
import { rescheduleOffboardingSignal } from './internal-messages';
import {
  reactivateSignal,
  type CustomerWorkflowTiming,
  type OffboardingResult,
} from '../common/lifecycle-messages';
import { LayersCustomerId, LayersLifecycleState, LayersOrgId } from '../common/search-attributes';
import { upsertChangedSearchAttributes } from './search-attribute-updates';
import { refuseInvalidChildInput } from './child-input';

export interface OffboardingInput {
  externalId: string;
  orgId: string;
  reason: string;
  /** ISO time to offboard at; a `reactivate` signal before then cancels the offboarding. */
  effectiveAt?: string;
  /** Suspend first and wait for reserved credits to settle, so the archive reclaims everything. */
  drain?: boolean;
  timing?: CustomerWorkflowTiming;
}

export type OffboardingOutcome =
  | ({ cancelled: false; alreadyArchived: boolean; drained?: boolean } & OffboardingResult)
  | { cancelled: true; reason: string };

/** Offboards one customer: wait for effectiveAt (cancellable), optionally drain, then archive. */
export async function offboardCustomer(input: OffboardingInput): Promise<OffboardingOutcome> {
  refuseInvalidChildInput('offboarding', input);
  const { writes, reads, write, read } = layersActivities();
  const backoffMs = input.timing?.killSwitchBackoffMs;
  let reactivation: string | undefined;
  setHandler(reactivateSignal, ({ reason }) => {
    reactivation ??= reason;
  });
  // A second churn may bring the date forward (never back): the earliest date asked for wins.
  let effectiveAt = input.effectiveAt;
  setHandler(rescheduleOffboardingSignal, (request) => {
    const at = request.effectiveAt ?? new Date().toISOString();
    if (effectiveAt !== undefined && Date.parse(at) < Date.parse(effectiveAt)) effectiveAt = at;
  });
  upsertChangedSearchAttributes([
    { key: LayersCustomerId, value: input.externalId },
    { key: LayersOrgId, value: input.orgId },
    { key: LayersLifecycleState, value: 'offboarding' },
  ]);

  // Each pass is one timer; a reschedule ends it early and the next pass waits for the new date (a
  // history without reschedules has exactly the one timer it always had).
  for (let pass = 0; effectiveAt !== undefined; pass++) {
    const waitingFor = effectiveAt;
    const waitMs = Math.max(0, Date.parse(waitingFor) - Date.now());
    if (pass > 0 && waitMs === 0) break;
    if (await condition(() => reactivation !== undefined || effectiveAt !== waitingFor, waitMs)) {
      if (reactivation === undefined) continue;
      // A cancelled offboarding must not linger in "LayersLifecycleState = offboarding" lists.
      upsertChangedSearchAttributes([{ key: LayersLifecycleState, value: null }]);
      return { cancelled: true, reason: reactivation };
    }
    break;
  }

  let drained: boolean | undefined;
  if (input.drain) {
    await whileKillSwitchWaits(
      () =>
        writes.suspendOrganization.executeWithOptions(write(`Suspend ${input.orgId} before draining`), [
          { orgId: input.orgId },
        ]),
      { backoffMs },
    );
    const deadline = Date.now() + (input.timing?.drainTimeoutMs ?? 24 * 60 * 60 * 1000);
    const pollMs = input.timing?.drainPollMs ?? 60_000;
    drained = false;
    for (;;) {
      const wallet = await whileKillSwitchWaits(
        () =>
          reads.reservedCredits.executeWithOptions(read(`Read reserved credits of ${input.orgId}`), [
            { orgId: input.orgId },
          ]),
        { backoffMs },
      );
      if (wallet.reservedCredits === 0) {
        drained = true;
        break;
      }
      if (Date.now() + pollMs > deadline) break;
      await sleep(pollMs);
    }
  }

  // Issue 14: the customer's own child-scoped webhook endpoint goes before the org does (histories from before keep the old order).
  if (patched('delete-customer-webhooks')) {
    await whileKillSwitchWaits(
      () =>
        writes.deleteCustomerWebhooks.executeWithOptions(
          write(`Delete ${input.externalId}'s webhook endpoints in ${input.orgId}`),
          [{ orgId: input.orgId }],
        ),
      { backoffMs },
    );
  }

  const archived = await whileKillSwitchWaits(
    () =>
      writes.archiveOrganization.executeWithOptions(write(`Archive ${input.orgId} (${input.externalId})`), [
        { orgId: input.orgId },
      ]),
    { backoffMs },
  );
  upsertChangedSearchAttributes([{ key: LayersLifecycleState, value: 'archived' }]);
  return { cancelled: false, ...archived, ...(drained !== undefined ? { drained } : {}) };
}
