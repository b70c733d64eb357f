import { Context, heartbeat } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure, TerminatedFailure, CancelledFailure } from '@temporalio/common';
import type { OnboardingResult } from '../common/onboarding-messages';
import { LayersApiError, type LayersClient } from './layers';
import { callOptions, layersCall } from './layers-call';
import { ChildOrgIndex } from './child-orgs';

/** How an onboarding that the customer workflow did not start itself ended (see awaitOnboardingOutcome). */
export type ForeignOnboardingOutcome =
  { ok: true; result: OnboardingResult } | { ok: false; type: string; message: string; orgId?: string };

export interface OffboardingOutcome {
  archivedAt: string;
  reclaimedCredits: number;
  revokedApiKeys: number;
  /** The org was archived before this offboarding got to it. */
  alreadyArchived: boolean;
}

/** Suspend, resume, archive and drain checks for a customer's child org. All idempotent by state. */
export function createLifecycleActivities({
  layers,
  childIndex,
}: {
  layers: LayersClient;
  childIndex?: ChildOrgIndex;
}) {
  const children = childIndex ?? new ChildOrgIndex(layers);
  return {
    /** Adopt a customer provisioned outside this orchestrator (or by an earlier run): find its org. */
    async findCustomerOrganization(input: {
      externalId: string;
    }): Promise<{ orgId: string; status: string } | null> {
      return layersCall(async () => {
        let found: { orgId: string; status: string } | null = null;
        for (const org of await children.find(input.externalId)) {
          // Prefer a live org over an archived one of the same customer.
          if (!found || (found.status === 'archived' && org.status !== 'archived'))
            found = { orgId: org.id, status: org.status };
        }
        return found;
      });
    },

    /**
     * The run of `onboarding/<externalId>` that is still running, if any: one left behind by a customer
     * run that was terminated (parent-close policy ABANDON keeps it going, and it can still move money).
     */
    async findRunningOnboarding(input: {
      workflowId: string;
    }): Promise<{ runId: string; parentRunId?: string } | null> {
      try {
        const described = await Context.current().client.workflow.getHandle(input.workflowId).describe();
        if (described.status.name !== 'RUNNING') return null;
        return {
          runId: described.runId,
          ...(described.parentExecution?.runId ? { parentRunId: described.parentExecution.runId } : {}),
        };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
    },

    /**
     * Waits for that onboarding run to close and reports how (a workflow cannot await another
     * workflow's result except as its child). Heartbeats while it waits, so a lost worker is noticed and
     * the retry simply waits again.
     */
    async awaitOnboardingOutcome(input: {
      workflowId: string;
      runId: string;
    }): Promise<ForeignOnboardingOutcome> {
      const context = Context.current();
      const beat = setInterval(() => heartbeat(), 5_000);
      try {
        const handle = context.client.workflow.getHandle(input.workflowId, input.runId, {
          followRuns: false,
        });
        const result = await Promise.race([handle.result() as Promise<OnboardingResult>, context.cancelled]);
        return { ok: true, result: result as OnboardingResult };
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
        const cause = err.cause;
        if (cause instanceof ApplicationFailure) {
          const details = cause.details?.[0] as { orgId?: string | null } | undefined;
          return {
            ok: false,
            type: cause.type ?? 'Error',
            message: cause.message,
            ...(details?.orgId ? { orgId: details.orgId } : {}),
          };
        }
        const type =
          cause instanceof TerminatedFailure
            ? 'Terminated'
            : cause instanceof CancelledFailure
              ? 'Cancelled'
              : 'Failed';
        return {
          ok: false,
          type,
          message: `onboarding ${input.workflowId} (${input.runId}) ${type.toLowerCase()}: ${cause?.message ?? err.message}`,
        };
      } finally {
        clearInterval(beat);
      }
    },

    async organizationStatus(input: { orgId: string }): Promise<string> {
      return layersCall(async () => (await layers.getOrganization(input.orgId, callOptions())).status);
    },

    async suspendOrganization(input: { orgId: string }): Promise<{ status: string }> {
      return layersCall(async () => ({
        status: (await layers.suspendOrganization(input.orgId, callOptions())).status,
      }));
    },

    async resumeOrganization(input: { orgId: string }): Promise<{ status: string }> {
      return layersCall(async () => ({
        status: (await layers.resumeOrganization(input.orgId, callOptions())).status,
      }));
    },

    async reservedCredits(input: {
      orgId: string;
    }): Promise<{ balance: number; reservedCredits: number; available: number }> {
      return layersCall(async () => {
        const wallet = await layers.getCredits(input.orgId, callOptions());
        return {
          balance: wallet.balance,
          reservedCredits: wallet.reservedCredits,
          available: wallet.available,
        };
      });
    },

    /** Archive is terminal and idempotent; an org that is already archived counts as done. */
    async archiveOrganization(input: { orgId: string }): Promise<OffboardingOutcome> {
      return layersCall(async () => {
        try {
          const before = await layers.getOrganization(input.orgId, callOptions());
          const archived = await layers.archiveOrganization(input.orgId, callOptions());
          return {
            archivedAt: archived.archivedAt,
            reclaimedCredits: archived.reclaimedCredits,
            revokedApiKeys: archived.revokedApiKeys,
            alreadyArchived: before.status === 'archived',
          };
        } catch (err) {
          if (err instanceof LayersApiError && err.status === 409) {
            const org = await layers.getOrganization(input.orgId, callOptions());
            if (org.status === 'archived') {
              return {
                archivedAt: String(org.archivedAt),
                reclaimedCredits: 0,
                revokedApiKeys: 0,
                alreadyArchived: true,
              };
            }
          }
          throw err;
        }
      });
    },
  };
}
