/**
 * API keys (CONTRACT.md "Child API keys"): minting, rotation with a 24 h grace window, revocation.
 * Only a SHA-256 of each secret is kept; a key is found by hashing the presented secret.
 */
import { conflict, archivedConflict, validation } from '../errors';
import { hashSecret, newApiKeySecret, newKeyId, prefixOfSecret } from '../ids';
import { view } from '../json-view';
import type { Json, Scope } from '../validate';
import type { Store } from './index';
import type { Org } from './organizations';

export interface ApiKeyRec {
  id: string;
  organizationId: string;
  name: string;
  prefix: string;
  env: 'live';
  scopes: Scope[];
  rateLimitTier: string;
  createdAt: number;
  lastUsedAt: number | null;
  rotatedAt: number | null;
  revokedAt: number | null;
  graceUntil: number | null;
  supersededBy: string | null;
  secretHash: string;
  /** Key-level suspension (control API): 503 KILL_SWITCH with details.scope "key". */
  suspended: boolean;
  seq: number;
}

export type KeyStatus = 'active' | 'revoked' | 'expired';

export const GRACE_MS = 24 * 60 * 60 * 1000;
export const API_KEY_WARNING =
  "Store this secret now. It cannot be retrieved again. Rotate the key if it's lost.";

/** A new key for `orgId`: a generated secret, or `secret` when given (the bootstrap parent key). */
export function createKey(
  s: Store,
  orgId: string,
  name: string,
  scopes: Scope[],
  tier: string,
  secret?: string,
  keyId?: string,
): { key: ApiKeyRec; secret: string } {
  const generated = secret === undefined ? newApiKeySecret() : { secret, prefix: prefixOfSecret(secret) };
  const hash = hashSecret(generated.secret);
  if (s.keysByHash.has(hash)) throw validation('secret', 'is already registered');
  const key: ApiKeyRec = {
    id: keyId ?? newKeyId(),
    organizationId: orgId,
    name,
    prefix: generated.prefix,
    env: 'live',
    scopes: [...scopes],
    rateLimitTier: tier,
    createdAt: s.now(),
    lastUsedAt: null,
    rotatedAt: null,
    revokedAt: null,
    graceUntil: null,
    supersededBy: null,
    secretHash: hash,
    suspended: false,
    seq: s.nextSeq(),
  };
  s.keys.set(key.id, key);
  s.keysByHash.set(hash, key.id);
  return { key, secret: generated.secret };
}

export function keyBySecret(s: Store, secret: string): ApiKeyRec | undefined {
  const id = s.keysByHash.get(hashSecret(secret));
  return id === undefined ? undefined : s.keys.get(id);
}

export function keyStatus(s: Store, k: ApiKeyRec): KeyStatus {
  if (k.revokedAt !== null) return 'revoked';
  if (k.graceUntil !== null && s.now() >= k.graceUntil) return 'expired';
  return 'active';
}

/** A successor key with the same name, scopes and tier; the old one keeps working for GRACE_MS. */
export function rotateKey(
  s: Store,
  org: Org,
  key: ApiKeyRec,
): { newKey: ApiKeyRec; secret: string; oldKey: ApiKeyRec } {
  if (org.status === 'archived') throw archivedConflict(org.id);
  if (key.supersededBy !== null) {
    throw conflict('This key was already rotated; rotate its successor instead.', {
      reason: 'superseded',
      supersededBy: key.supersededBy,
    });
  }
  if (key.revokedAt !== null) throw conflict('A revoked key cannot be rotated.', { reason: 'revoked' });
  const now = s.now();
  const minted = createKey(s, org.id, key.name, key.scopes, key.rateLimitTier);
  key.supersededBy = minted.key.id;
  key.rotatedAt = now;
  key.graceUntil = now + GRACE_MS;
  return { newKey: minted.key, secret: minted.secret, oldKey: key };
}

/** Idempotent: a revoked key keeps its first revocation time. */
export function revokeKey(s: Store, key: ApiKeyRec): ApiKeyRec {
  if (key.revokedAt === null) key.revokedAt = s.now();
  return key;
}

/** Revoke every still-valid key of an org (archive); returns how many were active. */
export function revokeAllKeysOf(s: Store, orgId: string): number {
  let revoked = 0;
  for (const k of s.keys.values()) {
    if (k.organizationId !== orgId) continue;
    const status = keyStatus(s, k);
    if (status === 'revoked') continue;
    if (status === 'active') revoked++;
    revokeKey(s, k);
  }
  return revoked;
}

/** The public shape: never the secret or its hash. */
export function keyJson(s: Store, k: ApiKeyRec): Record<string, Json> {
  return {
    ...view(k, 'id organizationId name prefix env scopes rateLimitTier'),
    status: keyStatus(s, k),
    ...view(k, 'createdAt lastUsedAt rotatedAt revokedAt graceUntil supersededBy'),
  };
}
