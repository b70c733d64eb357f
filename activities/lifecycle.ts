import { LayersApiError, type LayersClient } from './layers';
import { callOptions, layersCall } from './layers-call';

export interface OffboardingOutcome {
  archivedAt: string;
  reclaimedCredits: number;
  revokedApiKeys: number;
  /** The org was archived before this offboarding got to it. */
  alreadyArchived: boolean;
}

/** Suspend, resume, archive and drain checks for a customer's child org. All idempotent by state. */
export function createLifecycleActivities({ layers }: { layers: LayersClient }) {
  return {
    /** Adopt a customer provisioned outside this orchestrator (or by an earlier run): find its org. */
    async findCustomerOrganization(input: { externalId: string }): Promise<{ orgId: string; status: string } | null> {
      return layersCall(async () => {
        let found: { orgId: string; status: string } | null = null;
        for await (const org of layers.listAllOrganizations({}, callOptions())) {
          if (org.metadata?.externalId !== input.externalId) continue;
          // Prefer a live org over an archived one of the same customer.
          if (!found || (found.status === 'archived' && org.status !== 'archived')) found = { orgId: org.id, status: org.status };
        }
        return found;
      });
    },

    async suspendOrganization(input: { orgId: string }): Promise<{ status: string }> {
      return layersCall(async () => ({ status: (await layers.suspendOrganization(input.orgId, callOptions())).status }));
    },

    async resumeOrganization(input: { orgId: string }): Promise<{ status: string }> {
      return layersCall(async () => ({ status: (await layers.resumeOrganization(input.orgId, callOptions())).status }));
    },

    async reservedCredits(input: { orgId: string }): Promise<{ balance: number; reservedCredits: number; available: number }> {
      return layersCall(async () => {
        const wallet = await layers.getCredits(input.orgId, callOptions());
        return { balance: wallet.balance, reservedCredits: wallet.reservedCredits, available: wallet.available };
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
              return { archivedAt: String(org.archivedAt), reclaimedCredits: 0, revokedApiKeys: 0, alreadyArchived: true };
            }
          }
          throw err;
        }
      });
    },
  };
}
