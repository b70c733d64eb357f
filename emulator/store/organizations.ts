/**
 * Organizations (pages 001 and 002, CONTRACT.md "Child organizations"): partner (parent) orgs and
 * their children — one level deep — with suspend/resume, metadata merges and the terminal archive.
 */
import { archivedConflict, notFound, validation } from '../errors';
import { iso, newOrgId } from '../ids';
import { view } from '../json-view';
import { KNOWN_SCOPES, type Json } from '../validate';
import { createKey, revokeAllKeysOf, type ApiKeyRec } from './api-keys';
import { configJson } from './credit-config';
import { balances, ensureWallet, mint, transfer } from './credits';
import type { Store } from './index';
import { projectCount } from './projects';
import { disableEndpointsOf } from './webhooks';

export type OrgStatus = 'active' | 'suspended' | 'archived';

export interface Org {
  id: string;
  parentOrganizationId: string | null;
  name: string;
  status: OrgStatus;
  metadata: Record<string, string>;
  billingEmail: string | null;
  createdAt: number;
  updatedAt: number;
  archivedAt: number | null;
  /** Org-wide kill switch (parents: flipped by the control API). */
  killSwitch: boolean;
  apiAccessRevoked: boolean;
  /** What the archive did, so a repeated DELETE answers the same thing. */
  archiveResult: { reclaimedCredits: number; revokedApiKeys: number } | null;
  seq: number;
}

export type ArchiveResult = {
  id: string;
  status: 'archived';
  archivedAt: string;
  reclaimedCredits: number;
  revokedApiKeys: number;
};

type OrgFields = Pick<Org, 'parentOrganizationId' | 'name' | 'metadata' | 'billingEmail'>;

/** A new active org with an empty wallet. */
function insertOrg(s: Store, id: string, fields: OrgFields): Org {
  const now = s.now();
  const org: Org = {
    id,
    ...fields,
    status: 'active',
    createdAt: now,
    updatedAt: now,
    archivedAt: null,
    killSwitch: false,
    apiAccessRevoked: false,
    archiveResult: null,
    seq: s.nextSeq(),
  };
  s.orgs.set(org.id, org);
  ensureWallet(s, org.id);
  return org;
}

/** A partner org with its initial credits and an admin key holding every known scope. */
export function createParentOrg(
  s: Store,
  name: string,
  credits: number,
  secret?: string,
  ids: { orgId?: string; keyId?: string } = {},
): { org: Org; key: ApiKeyRec; secret: string } {
  const org = insertOrg(s, ids.orgId ?? newOrgId(), {
    parentOrganizationId: null,
    name,
    metadata: {},
    billingEmail: null,
  });
  if (credits > 0) mint(s, org.id, credits, 'Initial partner credits');
  const minted = createKey(
    s,
    org.id,
    'partner admin key',
    [...KNOWN_SCOPES],
    s.defaultTier,
    secret,
    ids.keyId,
  );
  return { org, key: minted.key, secret: minted.secret };
}

export function createChild(
  s: Store,
  parentId: string,
  fields: Omit<OrgFields, 'parentOrganizationId'>,
): Org {
  return insertOrg(s, newOrgId(), { parentOrganizationId: parentId, ...fields });
}

/** The direct child `childId` of `callerOrgId`, or 404 (never 403: no existence leak). */
export function directChild(s: Store, callerOrgId: string, childId: string): Org {
  const org = s.orgs.get(childId);
  if (!org || org.parentOrganizationId !== callerOrgId) throw notFound('Organization');
  return org;
}

export function rootOf(s: Store, org: Org): Org {
  return org.parentOrganizationId === null ? org : (s.orgs.get(org.parentOrganizationId) ?? org);
}

/** Suspend / resume: idempotent by state; 409 once archived. */
export function setStatus(s: Store, org: Org, status: 'active' | 'suspended'): Org {
  if (org.status === 'archived') throw archivedConflict(org.id);
  if (org.status !== status) {
    org.status = status;
    org.updatedAt = s.now();
  }
  return org;
}

/** Merged key by key; `""` unsets a key; the result must still hold ≤ 50 keys. */
export function patchMetadata(s: Store, org: Org, patch: Record<string, string>): Org {
  if (org.status === 'archived') throw archivedConflict(org.id);
  const merged = { ...org.metadata };
  for (const [k, v] of Object.entries(patch)) {
    if (v === '') delete merged[k];
    else merged[k] = v;
  }
  if (Object.keys(merged).length > 50) {
    throw validation('metadata', 'would exceed 50 keys after merging', { maxKeys: 50 });
  }
  org.metadata = merged;
  org.updatedAt = s.now();
  return org;
}

/**
 * Archive: revoke every child key, reclaim balance − reserved to the parent, disable the child's
 * own webhook endpoints (emulator decision), mark archived.
 * Repeating it returns the original result (idempotent, nothing moves the second time).
 */
export function archive(s: Store, org: Org): ArchiveResult {
  if (org.status !== 'archived') {
    const now = s.now();
    const revoked = revokeAllKeysOf(s, org.id);
    const reclaimable = balances(s, org.id).available;
    if (reclaimable > 0 && org.parentOrganizationId !== null) {
      transfer(s, org.id, org.parentOrganizationId, reclaimable, 'reclaim', null, {});
    }
    disableEndpointsOf(s, org.id);
    org.status = 'archived';
    org.archivedAt = now;
    org.updatedAt = now;
    org.archiveResult = { reclaimedCredits: reclaimable, revokedApiKeys: revoked };
  }
  return {
    id: org.id,
    status: 'archived',
    archivedAt: iso(org.archivedAt as number),
    reclaimedCredits: org.archiveResult?.reclaimedCredits ?? 0,
    revokedApiKeys: org.archiveResult?.revokedApiKeys ?? 0,
  };
}

export const orgJson = (org: Org): Record<string, Json> =>
  view(org, 'id parentOrganizationId name status metadata billingEmail archivedAt createdAt updatedAt');

/** GET /v1/organizations/:orgId's `summary`. */
export function orgSummary(s: Store, org: Org): Record<string, Json> {
  return {
    projectCount: projectCount(s, org.id),
    ...balances(s, org.id),
    creditConfig: configJson(s, org.id),
  };
}
