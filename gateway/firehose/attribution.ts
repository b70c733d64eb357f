import type { Client } from '@temporalio/client';
import { LruCache } from '../lru';

// Which CRM customer a Layers org belongs to: the customer workflow carries the org id as the
// `LayersOrgId` search attribute (and, from the moment the org exists, so does its onboarding, which tells
// the customer only at the end), so one visibility query answers it. Cached (orgs never change owner);
// an unknown org is cached briefly, since visibility can lag a freshly created org by a moment.

export interface OrgAttribution {
  externalIdOf(orgId: string): Promise<string | undefined>;
}

const ORG_ID = /^org_[A-Za-z0-9-]{1,80}$/;

export class VisibilityAttribution implements OrgAttribution {
  private readonly known = new LruCache<string, string>(10_000);
  private readonly unknown = new LruCache<string, true>(10_000, 5_000);

  constructor(private readonly client: Client) {}

  async externalIdOf(orgId: string): Promise<string | undefined> {
    if (!ORG_ID.test(orgId)) return undefined;
    const cached = this.known.get(orgId);
    if (cached) return cached;
    if (this.unknown.get(orgId)) return undefined;
    for await (const wf of this.client.workflow.list({
      query: `WorkflowType IN ('customerLifecycle', 'onboardCustomer') AND LayersOrgId = '${orgId}'`,
    })) {
      const externalId = (wf.searchAttributes as Record<string, unknown[] | undefined>).LayersCustomerId?.[0];
      if (typeof externalId === 'string') {
        this.known.set(orgId, externalId);
        return externalId;
      }
    }
    this.unknown.set(orgId, true);
    return undefined;
  }
}
