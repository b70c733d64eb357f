/**
 * The emulator's whole state and every state-changing operation on it. All operations are
 * synchronous: the HTTP layer calls one of them per request, so each runs atomically with respect to
 * every other request (Node runs one JavaScript turn at a time), which is what makes the
 * idempotency guard and the credit conservation invariant hold under concurrency.
 */
import { ApiError, archivedConflict, conflict, notFound, validation } from './errors';
import {
  billingPeriod,
  hashSecret,
  iso,
  isoOrNull,
  newApiKeySecret,
  newDeliveryId,
  newEndpointId,
  newKeyId,
  newLedgerEventId,
  newOrgId,
  newProjectId,
  newTransferId,
  newWebhookEventId,
  prefixOfSecret,
} from './ids';
import type { Json, Scope } from './validate';
import { KNOWN_SCOPES } from './validate';

export type OrgStatus = 'active' | 'suspended' | 'archived';
export type LedgerEventType = 'usage' | 'refund' | 'grant' | 'purchase' | 'adjustment' | 'allocation';
export type TransferTrigger = 'allocate' | 'auto_refill' | 'reclaim';

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

export interface Wallet {
  organizationId: string;
  balance: number;
  reserved: number;
  usedThisMonth: number;
  usagePeriod: string;
}

export interface CreditConfig {
  organizationId: string;
  monthlyCreditCap: number | null;
  refillThreshold: number | null;
  refillAmount: number | null;
}

export interface LedgerEvent {
  eventId: string;
  organizationId: string;
  projectId: string | null;
  credits: number;
  eventType: LedgerEventType;
  description: string | null;
  metadata: Record<string, string>;
  balanceAfter: number;
  createdAt: number;
  seq: number;
}

export interface Transfer {
  id: string;
  fromOrganizationId: string;
  toOrganizationId: string;
  credits: number;
  trigger: TransferTrigger;
  description: string | null;
  metadata: Record<string, string>;
  createdAt: number;
  seq: number;
}

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

export interface Project {
  id: string;
  organizationId: string;
  name: string;
  timezone: string;
  customerExternalId: string | null;
  status: 'active';
  createdAt: number;
  updatedAt: number;
  seq: number;
}

export interface WebhookEndpoint {
  id: string;
  organizationId: string;
  url: string;
  events: string[];
  description: string | null;
  metadata: Record<string, string>;
  scope: 'own' | 'all_children';
  status: 'enabled' | 'deleted';
  createdAt: number;
  deletedAt: number | null;
  signingSecret: string;
  seq: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  type: string;
  organizationId: string;
  attempts: number;
  status: DeliveryStatus;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  nextAttemptAt: number | null;
  /** The raw JSON body, signed and sent verbatim on every attempt. */
  payload: string;
  seq: number;
}

export interface IdemRecord {
  scopeKey: string;
  fingerprint: string;
  route: string;
  status: number;
  body: Json;
  createdAt: number;
}

export interface TierLimits {
  read: number;
  write: number;
  longRunning: number;
}

export const BUILTIN_TIERS: Record<string, TierLimits | null> = {
  standard: { read: 120, write: 60, longRunning: 20 },
  pilot: { read: 1200, write: 600, longRunning: 60 },
  partner: { read: 6000, write: 3000, longRunning: 300 },
  unlimited: null,
};

export interface LogEntry {
  at: string;
  level: 'info' | 'warn';
  message: string;
  organizationId?: string;
}

export const GRACE_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const API_KEY_WARNING =
  "Store this secret now. It cannot be retrieved again. Rotate the key if it's lost.";
const PARENT_SCOPES: Scope[] = [...KNOWN_SCOPES];

export interface WebhookEventInput {
  id: string;
  type: string;
  organizationId: string;
  createdAt: number;
  data: Record<string, Json>;
}

export interface UsageResult {
  organizationId: string;
  action: 'reserve' | 'settle' | 'release';
  credits: number;
  balance: number;
  reserved: number;
  available: number;
  usedThisMonth: number;
  ledgerEventId: string | null;
  webhookEventId: string | null;
  autoRefill: { transferId: string; credits: number } | null;
  reclaimed: { transferId: string; credits: number } | null;
}

/** The persisted form (see persistence.ts): plain arrays, no Maps. */
export interface PersistedState {
  version: 1;
  clockOffsetMs: number;
  frozenAt: number | null;
  seq: number;
  defaultTier: string;
  customTiers: Record<string, TierLimits>;
  bootstrap: { parentOrganizationId: string; parentKeyId: string; parentKeySecret: string };
  orgs: Org[];
  wallets: Wallet[];
  configs: CreditConfig[];
  ledger: LedgerEvent[];
  transfers: Transfer[];
  keys: ApiKeyRec[];
  projects: Project[];
  endpoints: WebhookEndpoint[];
  deliveries: WebhookDelivery[];
  idempotency: IdemRecord[];
  totals: { minted: number; consumed: number };
  requests: { total: number; byRoute: Record<string, Record<string, number>> };
  log: LogEntry[];
}

export class Store {
  clockOffsetMs = 0;
  /** When set, the emulator clock stands still at this instant (POST /_emulator/clock {freeze: true}). */
  frozenAt: number | null = null;
  seq = 0;
  defaultTier: string;
  customTiers: Record<string, TierLimits> = {};
  bootstrap = { parentOrganizationId: '', parentKeyId: '', parentKeySecret: '' };
  orgs = new Map<string, Org>();
  wallets = new Map<string, Wallet>();
  configs = new Map<string, CreditConfig>();
  ledger: LedgerEvent[] = [];
  ledgerByOrg = new Map<string, LedgerEvent[]>();
  transfers: Transfer[] = [];
  keys = new Map<string, ApiKeyRec>();
  keysByHash = new Map<string, string>();
  projects = new Map<string, Project>();
  endpoints = new Map<string, WebhookEndpoint>();
  deliveries = new Map<string, WebhookDelivery>();
  idempotency = new Map<string, IdemRecord>();
  /** Credits that entered the system (initial + top-ups) and left it (settled usage). */
  totals = { minted: 0, consumed: 0 };
  requests = { total: 0, byRoute: {} as Record<string, Record<string, number>> };
  log: LogEntry[] = [];
  /** Set by the webhook dispatcher: called after deliveries were created for an event. */
  onDeliveriesCreated: (ids: string[]) => void = () => {};
  /** Set by the server: called after any state change, to schedule persistence. */
  onChange: () => void = () => {};
  quiet = true;

  constructor(defaultTier: string) {
    this.defaultTier = defaultTier;
  }

  now(): number {
    return this.frozenAt ?? Date.now() + this.clockOffsetMs;
  }

  /** Move the clock forward; freeze or unfreeze it (frozen time only moves by `advance`). */
  moveClock(advanceMs: number, freeze?: boolean): void {
    if (this.frozenAt !== null) this.frozenAt += advanceMs;
    else this.clockOffsetMs += advanceMs;
    if (freeze === true && this.frozenAt === null) this.frozenAt = Date.now() + this.clockOffsetMs;
    if (freeze === false && this.frozenAt !== null) {
      this.clockOffsetMs = this.frozenAt - Date.now();
      this.frozenAt = null;
    }
  }

  nextSeq(): number {
    return ++this.seq;
  }

  logLine(level: LogEntry['level'], message: string, organizationId?: string): void {
    this.log.push({ at: iso(this.now()), level, message, ...(organizationId ? { organizationId } : {}) });
    if (this.log.length > 1000) this.log.splice(0, this.log.length - 1000);
    if (!this.quiet) console.log(`[layers-emulator] ${level}: ${message}`);
  }

  tierLimits(tier: string): TierLimits | null {
    if (tier in this.customTiers) return this.customTiers[tier];
    if (tier in BUILTIN_TIERS) return BUILTIN_TIERS[tier];
    return BUILTIN_TIERS.partner;
  }

  // ---------------------------------------------------------------- organizations & keys

  createParentOrg(
    name: string,
    credits: number,
    secret?: string,
    ids: { orgId?: string; keyId?: string } = {},
  ): { org: Org; key: ApiKeyRec; secret: string } {
    const org = this.insertOrg({
      id: ids.orgId ?? newOrgId(),
      parentOrganizationId: null,
      name,
      metadata: {},
      billingEmail: null,
    });
    if (credits > 0) this.mint(org.id, credits, 'Initial partner credits');
    const minted = this.createKey(
      org.id,
      'partner admin key',
      PARENT_SCOPES,
      this.defaultTier,
      secret,
      ids.keyId,
    );
    return { org, key: minted.key, secret: minted.secret };
  }

  createKey(
    orgId: string,
    name: string,
    scopes: Scope[],
    tier: string,
    secret?: string,
    keyId?: string,
  ): { key: ApiKeyRec; secret: string } {
    const generated = secret === undefined ? newApiKeySecret() : { secret, prefix: prefixOfSecret(secret) };
    const hash = hashSecret(generated.secret);
    if (this.keysByHash.has(hash)) throw validation('secret', 'is already registered');
    const key: ApiKeyRec = {
      id: keyId ?? newKeyId(),
      organizationId: orgId,
      name,
      prefix: generated.prefix,
      env: 'live',
      scopes: [...scopes],
      rateLimitTier: tier,
      createdAt: this.now(),
      lastUsedAt: null,
      rotatedAt: null,
      revokedAt: null,
      graceUntil: null,
      supersededBy: null,
      secretHash: hash,
      suspended: false,
      seq: this.nextSeq(),
    };
    this.keys.set(key.id, key);
    this.keysByHash.set(hash, key.id);
    return { key, secret: generated.secret };
  }

  keyBySecret(secret: string): ApiKeyRec | undefined {
    const id = this.keysByHash.get(hashSecret(secret));
    return id === undefined ? undefined : this.keys.get(id);
  }

  keyStatus(k: ApiKeyRec): 'active' | 'revoked' | 'expired' {
    if (k.revokedAt !== null) return 'revoked';
    if (k.graceUntil !== null && this.now() >= k.graceUntil) return 'expired';
    return 'active';
  }

  createChild(
    parentId: string,
    name: string,
    metadata: Record<string, string>,
    billingEmail: string | null,
  ): Org {
    return this.insertOrg({ id: newOrgId(), parentOrganizationId: parentId, name, metadata, billingEmail });
  }

  /** A new active org with an empty wallet. */
  private insertOrg(
    fields: Pick<Org, 'id' | 'parentOrganizationId' | 'name' | 'metadata' | 'billingEmail'>,
  ): Org {
    const now = this.now();
    const org: Org = {
      ...fields,
      status: 'active',
      createdAt: now,
      updatedAt: now,
      archivedAt: null,
      killSwitch: false,
      apiAccessRevoked: false,
      archiveResult: null,
      seq: this.nextSeq(),
    };
    this.orgs.set(org.id, org);
    this.ensureWallet(org.id);
    return org;
  }

  /** The direct child `childId` of `callerOrgId`, or 404 (never 403: no existence leak). */
  directChild(callerOrgId: string, childId: string): Org {
    const org = this.orgs.get(childId);
    if (!org || org.parentOrganizationId !== callerOrgId) throw notFound('Organization');
    return org;
  }

  rootOf(org: Org): Org {
    return org.parentOrganizationId === null ? org : (this.orgs.get(org.parentOrganizationId) ?? org);
  }

  setStatus(org: Org, status: 'active' | 'suspended'): Org {
    if (org.status === 'archived') throw archivedConflict(org.id);
    if (org.status !== status) {
      org.status = status;
      org.updatedAt = this.now();
    }
    return org;
  }

  patchMetadata(org: Org, patch: Record<string, string>): Org {
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
    org.updatedAt = this.now();
    return org;
  }

  /**
   * Archive: revoke every child key, reclaim balance − reserved to the parent, mark archived.
   * Repeating it returns the original result (idempotent, nothing moves the second time).
   */
  archive(org: Org): {
    id: string;
    status: 'archived';
    archivedAt: string;
    reclaimedCredits: number;
    revokedApiKeys: number;
  } {
    if (org.status !== 'archived') {
      const now = this.now();
      let revoked = 0;
      for (const k of this.keys.values()) {
        if (k.organizationId === org.id && this.keyStatus(k) !== 'revoked') {
          if (this.keyStatus(k) === 'active') revoked++;
          k.revokedAt = now;
        }
      }
      const w = this.wallet(org.id);
      const reclaimable = Math.max(0, w.balance - w.reserved);
      if (reclaimable > 0 && org.parentOrganizationId !== null) {
        this.transfer(org.id, org.parentOrganizationId, reclaimable, 'reclaim', null, {});
      }
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

  rotateKey(org: Org, key: ApiKeyRec): { newKey: ApiKeyRec; secret: string; oldKey: ApiKeyRec } {
    if (org.status === 'archived') throw archivedConflict(org.id);
    if (key.supersededBy !== null) {
      throw conflict('This key was already rotated; rotate its successor instead.', {
        reason: 'superseded',
        supersededBy: key.supersededBy,
      });
    }
    if (key.revokedAt !== null) throw conflict('A revoked key cannot be rotated.', { reason: 'revoked' });
    const now = this.now();
    const minted = this.createKey(org.id, key.name, key.scopes, key.rateLimitTier);
    key.supersededBy = minted.key.id;
    key.rotatedAt = now;
    key.graceUntil = now + GRACE_MS;
    return { newKey: minted.key, secret: minted.secret, oldKey: key };
  }

  revokeKey(key: ApiKeyRec): ApiKeyRec {
    if (key.revokedAt === null) key.revokedAt = this.now();
    return key;
  }

  // ---------------------------------------------------------------- wallets, ledger, transfers

  ensureWallet(orgId: string): Wallet {
    let w = this.wallets.get(orgId);
    if (!w) {
      w = {
        organizationId: orgId,
        balance: 0,
        reserved: 0,
        usedThisMonth: 0,
        usagePeriod: billingPeriod(this.now()),
      };
      this.wallets.set(orgId, w);
    }
    return w;
  }

  /** The wallet, with the monthly usage counter rolled over at the UTC month boundary. */
  wallet(orgId: string): Wallet {
    const w = this.ensureWallet(orgId);
    const period = billingPeriod(this.now());
    if (w.usagePeriod !== period) {
      w.usagePeriod = period;
      w.usedThisMonth = 0;
    }
    return w;
  }

  static available(w: Wallet): number {
    return Math.max(0, w.balance - w.reserved);
  }

  config(orgId: string): CreditConfig {
    return (
      this.configs.get(orgId) ?? {
        organizationId: orgId,
        monthlyCreditCap: null,
        refillThreshold: null,
        refillAmount: null,
      }
    );
  }

  configJson(orgId: string): {
    monthlyCreditCap: number | null;
    refillThreshold: number | null;
    refillAmount: number | null;
    autoRefillEnabled: boolean;
  } {
    const c = this.config(orgId);
    return {
      monthlyCreditCap: c.monthlyCreditCap,
      refillThreshold: c.refillThreshold,
      refillAmount: c.refillAmount,
      autoRefillEnabled: c.refillThreshold !== null && c.refillAmount !== null,
    };
  }

  private addLedger(
    orgId: string,
    credits: number,
    eventType: LedgerEventType,
    description: string | null,
    metadata: Record<string, string>,
    projectId: string | null,
  ): LedgerEvent {
    const now = this.now();
    const ev: LedgerEvent = {
      eventId: newLedgerEventId(now),
      organizationId: orgId,
      projectId,
      credits,
      eventType,
      description,
      metadata,
      balanceAfter: this.wallet(orgId).balance,
      createdAt: now,
      seq: this.nextSeq(),
    };
    this.ledger.push(ev);
    let list = this.ledgerByOrg.get(orgId);
    if (!list) {
      list = [];
      this.ledgerByOrg.set(orgId, list);
    }
    list.push(ev);
    return ev;
  }

  /** Credits entering the system (initial partner credits, control-API top-ups). */
  mint(orgId: string, credits: number, description: string): LedgerEvent {
    const w = this.wallet(orgId);
    w.balance += credits;
    this.totals.minted += credits;
    return this.addLedger(orgId, credits, 'purchase', description, { source: 'emulator' }, null);
  }

  /**
   * Move credits between two wallets: both balances change and both ledgers get an `allocation`
   * event carrying `metadata.transferId` (system keys override the caller's metadata).
   */
  transfer(
    fromId: string,
    toId: string,
    credits: number,
    trigger: TransferTrigger,
    description: string | null,
    userMetadata: Record<string, string>,
  ): Transfer {
    const from = this.wallet(fromId);
    const to = this.wallet(toId);
    if (credits <= 0 || credits > from.balance) throw new Error(`invariant: bad transfer of ${credits}`);
    const t: Transfer = {
      id: newTransferId(),
      fromOrganizationId: fromId,
      toOrganizationId: toId,
      credits,
      trigger,
      description,
      metadata: userMetadata,
      createdAt: this.now(),
      seq: this.nextSeq(),
    };
    from.balance -= credits;
    to.balance += credits;
    this.transfers.push(t);
    const sys = (direction: string, counterparty: string): Record<string, string> => ({
      ...userMetadata,
      transferId: t.id,
      direction,
      counterpartyOrgId: counterparty,
      trigger,
    });
    this.addLedger(fromId, -credits, 'allocation', description, sys('debit', toId), null);
    this.addLedger(toId, credits, 'allocation', description, sys('credit', fromId), null);
    return t;
  }

  allocate(
    parentId: string,
    child: Org,
    credits: number,
    description: string | null,
    metadata: Record<string, string>,
  ): Record<string, Json> {
    if (child.status === 'archived') throw archivedConflict(child.id);
    const parentWallet = this.wallet(parentId);
    const parentAvailable = Store.available(parentWallet);
    if (credits > parentAvailable) {
      throw new ApiError(
        'BILLING_EXHAUSTED',
        'Your parent wallet does not have enough credits for this allocation.',
        {
          reason: 'insufficient_balance',
          requested: credits,
          available: parentAvailable,
        },
      );
    }
    const t = this.transfer(parentId, child.id, credits, 'allocate', description, metadata);
    const w = this.wallet(child.id);
    return {
      id: t.id,
      organizationId: child.id,
      allocated: credits,
      balance: w.balance,
      available: Store.available(w),
      description,
      metadata,
      created: iso(t.createdAt),
    };
  }

  patchCreditConfig(
    org: Org,
    patch: {
      monthlyCreditCap?: number | null;
      refillThreshold?: number | null;
      refillAmount?: number | null;
    },
  ): CreditConfig {
    if (org.status === 'archived') throw archivedConflict(org.id);
    const merged = { ...this.config(org.id), ...patch };
    if ((merged.refillThreshold === null) !== (merged.refillAmount === null)) {
      throw new ApiError(
        'VALIDATION',
        'Auto-refill is both-or-neither: refillThreshold and refillAmount must both be set or both be null.',
        {
          code: 'REFILL_REQUIRES_THRESHOLD_AND_AMOUNT',
          field: merged.refillThreshold === null ? 'refillThreshold' : 'refillAmount',
          refillThreshold: merged.refillThreshold,
          refillAmount: merged.refillAmount,
        },
      );
    }
    this.configs.set(org.id, merged);
    return merged;
  }

  /**
   * Auto-refill (emulator decision: evaluated after each usage operation and before a reservation):
   * when refill is configured and available < threshold, move refillAmount from the parent once.
   * Skipped, and logged, when the parent's available balance is short.
   */
  maybeAutoRefill(org: Org): Transfer | null {
    if (org.parentOrganizationId === null || org.status === 'archived') return null;
    const c = this.config(org.id);
    if (c.refillThreshold === null || c.refillAmount === null) return null;
    const w = this.wallet(org.id);
    if (Store.available(w) >= c.refillThreshold) return null;
    const parentWallet = this.wallet(org.parentOrganizationId);
    if (Store.available(parentWallet) < c.refillAmount) {
      this.logLine(
        'warn',
        `auto-refill of ${c.refillAmount} credits for ${org.id} skipped: parent ${org.parentOrganizationId} has only ${Store.available(parentWallet)} available`,
        org.id,
      );
      return null;
    }
    const t = this.transfer(org.parentOrganizationId, org.id, c.refillAmount, 'auto_refill', null, {});
    this.logLine('info', `auto-refill moved ${c.refillAmount} credits into ${org.id} (${t.id})`, org.id);
    return t;
  }

  /** Content generation stand-in: reserve when work starts, settle or release when it ends. */
  usage(
    org: Org,
    action: 'reserve' | 'settle' | 'release',
    credits: number,
    projectId: string | null,
  ): UsageResult {
    let ledgerEvent: LedgerEvent | null = null;
    let webhookEventId: string | null = null;
    let refill: Transfer | null = null;
    let reclaimed: Transfer | null = null;
    const w = this.wallet(org.id);
    if (action === 'reserve') {
      if (org.status === 'archived') throw archivedConflict(org.id);
      refill = this.maybeAutoRefill(org);
      const c = this.config(org.id);
      if (c.monthlyCreditCap !== null && w.usedThisMonth + w.reserved + credits > c.monthlyCreditCap) {
        throw new ApiError('BILLING_EXHAUSTED', 'This reservation would exceed the monthly credit cap.', {
          reason: 'cap',
          monthlyCreditCap: c.monthlyCreditCap,
          usedThisMonth: w.usedThisMonth,
          reserved: w.reserved,
          requested: credits,
        });
      }
      if (credits > Store.available(w)) {
        throw new ApiError('BILLING_EXHAUSTED', 'Not enough available credits for this reservation.', {
          reason: 'insufficient_balance',
          requested: credits,
          available: Store.available(w),
        });
      }
      w.reserved += credits;
    } else {
      if (credits > w.reserved) {
        throw validation('credits', `exceeds the reserved credits (${w.reserved})`, { reserved: w.reserved });
      }
      w.reserved -= credits;
      if (action === 'settle') {
        w.balance -= credits;
        w.usedThisMonth += credits;
        this.totals.consumed += credits;
        ledgerEvent = this.addLedger(org.id, -credits, 'usage', 'Content generation', {}, projectId);
        webhookEventId = this.emit('content.generated', org.id, {
          projectId,
          credits,
          ledgerEventId: ledgerEvent.eventId,
        });
      }
      if (org.status === 'archived' && org.parentOrganizationId !== null) {
        // Reserved credits were left behind at archive; once released they go home too.
        const freed = Math.max(0, w.balance - w.reserved);
        if (freed > 0)
          reclaimed = this.transfer(org.id, org.parentOrganizationId, freed, 'reclaim', null, {});
      }
    }
    refill = this.maybeAutoRefill(org) ?? refill;
    return {
      organizationId: org.id,
      action,
      credits,
      balance: w.balance,
      reserved: w.reserved,
      available: Store.available(w),
      usedThisMonth: w.usedThisMonth,
      ledgerEventId: ledgerEvent?.eventId ?? null,
      webhookEventId,
      autoRefill: refill ? { transferId: refill.id, credits: refill.credits } : null,
      reclaimed: reclaimed ? { transferId: reclaimed.id, credits: reclaimed.credits } : null,
    };
  }

  /** Conservation: every credit ever minted is in some wallet or was consumed by settled usage. */
  conservation(): { minted: number; consumed: number; inWallets: number; holds: boolean } {
    let inWallets = 0;
    for (const w of this.wallets.values()) inWallets += w.balance;
    const { minted, consumed } = this.totals;
    return { minted, consumed, inWallets, holds: inWallets + consumed === minted };
  }

  // ---------------------------------------------------------------- projects & webhooks

  createProject(orgId: string, name: string, timezone: string, customerExternalId: string | null): Project {
    const now = this.now();
    const p: Project = {
      id: newProjectId(),
      organizationId: orgId,
      name,
      timezone,
      customerExternalId,
      status: 'active',
      createdAt: now,
      updatedAt: now,
      seq: this.nextSeq(),
    };
    this.projects.set(p.id, p);
    return p;
  }

  createEndpoint(
    orgId: string,
    input: {
      url: string;
      events: string[];
      description: string | null;
      metadata: Record<string, string>;
      scope: 'own' | 'all_children';
    },
    signingSecret: string,
  ): WebhookEndpoint {
    const ep: WebhookEndpoint = {
      id: newEndpointId(),
      organizationId: orgId,
      ...input,
      status: 'enabled',
      createdAt: this.now(),
      deletedAt: null,
      signingSecret,
      seq: this.nextSeq(),
    };
    this.endpoints.set(ep.id, ep);
    return ep;
  }

  /**
   * Record an event and create one delivery per subscribed endpoint: the org's own endpoints (either
   * scope) and its parent's `all_children` endpoints. Returns the webhook event id.
   */
  emit(type: string, orgId: string, data: Record<string, Json>): string {
    const now = this.now();
    const event: WebhookEventInput = {
      id: newWebhookEventId(now),
      type,
      organizationId: orgId,
      createdAt: now,
      data,
    };
    const org = this.orgs.get(orgId);
    const payload = JSON.stringify({
      id: event.id,
      type,
      createdAt: iso(now),
      data: { organizationId: orgId, ...data },
    });
    const created: string[] = [];
    for (const ep of this.endpoints.values()) {
      if (ep.status !== 'enabled' || !ep.events.includes(type)) continue;
      const own = ep.organizationId === orgId;
      const firehose = ep.scope === 'all_children' && org?.parentOrganizationId === ep.organizationId;
      if (!own && !firehose) continue;
      const d: WebhookDelivery = {
        id: newDeliveryId(now),
        endpointId: ep.id,
        eventId: event.id,
        type,
        organizationId: orgId,
        attempts: 0,
        status: 'pending',
        lastStatus: null,
        lastError: null,
        createdAt: now,
        deliveredAt: null,
        nextAttemptAt: now,
        payload,
        seq: this.nextSeq(),
      };
      this.deliveries.set(d.id, d);
      created.push(d.id);
    }
    if (created.length > 0) this.onDeliveriesCreated(created);
    return event.id;
  }

  // ---------------------------------------------------------------- idempotency

  /** Drop records older than 24 h (emulator clock). Called lazily. */
  expireIdempotency(): void {
    const cutoff = this.now() - IDEMPOTENCY_TTL_MS;
    for (const [k, r] of this.idempotency) {
      if (r.createdAt <= cutoff) this.idempotency.delete(k);
    }
  }

  // ---------------------------------------------------------------- views

  orgJson(org: Org): Record<string, Json> {
    return {
      id: org.id,
      parentOrganizationId: org.parentOrganizationId,
      name: org.name,
      status: org.status,
      metadata: { ...org.metadata },
      billingEmail: org.billingEmail,
      archivedAt: isoOrNull(org.archivedAt),
      createdAt: iso(org.createdAt),
      updatedAt: iso(org.updatedAt),
    };
  }

  orgSummary(org: Org): Record<string, Json> {
    const w = this.wallet(org.id);
    let projectCount = 0;
    for (const p of this.projects.values()) if (p.organizationId === org.id) projectCount++;
    return {
      projectCount,
      balance: w.balance,
      available: Store.available(w),
      creditConfig: this.configJson(org.id),
    };
  }

  keyJson(k: ApiKeyRec): Record<string, Json> {
    return {
      id: k.id,
      organizationId: k.organizationId,
      name: k.name,
      prefix: k.prefix,
      env: k.env,
      scopes: [...k.scopes],
      rateLimitTier: k.rateLimitTier,
      status: this.keyStatus(k),
      createdAt: iso(k.createdAt),
      lastUsedAt: isoOrNull(k.lastUsedAt),
      rotatedAt: isoOrNull(k.rotatedAt),
      revokedAt: isoOrNull(k.revokedAt),
      graceUntil: isoOrNull(k.graceUntil),
      supersededBy: k.supersededBy,
    };
  }

  ledgerJson(e: LedgerEvent): Record<string, Json> {
    return {
      eventId: e.eventId,
      organizationId: e.organizationId,
      projectId: e.projectId,
      credits: e.credits,
      eventType: e.eventType,
      description: e.description,
      metadata: { ...e.metadata },
      balanceAfter: e.balanceAfter,
      createdAt: iso(e.createdAt),
    };
  }

  projectJson(p: Project): Record<string, Json> {
    return {
      id: p.id,
      organizationId: p.organizationId,
      name: p.name,
      status: p.status,
      customerExternalId: p.customerExternalId,
      timezone: p.timezone,
      createdAt: iso(p.createdAt),
      updatedAt: iso(p.updatedAt),
    };
  }

  endpointJson(ep: WebhookEndpoint): Record<string, Json> {
    return {
      id: ep.id,
      organizationId: ep.organizationId,
      url: ep.url,
      events: [...ep.events],
      scope: ep.scope,
      description: ep.description,
      metadata: { ...ep.metadata },
      status: ep.status,
      createdAt: iso(ep.createdAt),
    };
  }

  /** GET /_emulator/state. Never includes a key secret, a secret hash or a signing secret. */
  snapshot(parentOrganizationId: string, killSwitch: boolean): Record<string, Json> {
    const wallets: Json[] = [];
    for (const org of this.orgs.values()) {
      const w = this.wallet(org.id);
      wallets.push({
        organizationId: org.id,
        balance: w.balance,
        reserved: w.reserved,
        available: Store.available(w),
        usedThisMonth: w.usedThisMonth,
        billingPeriod: w.usagePeriod,
      });
    }
    const creditConfigs: Json[] = [];
    for (const org of this.orgs.values()) {
      if (org.parentOrganizationId === null) continue;
      creditConfigs.push({
        organizationId: org.id,
        ...this.configJson(org.id),
        configured: this.configs.has(org.id),
      });
    }
    return {
      now: iso(this.now()),
      nowMs: this.now(),
      parentOrganizationId,
      killSwitch,
      organizations: [...this.orgs.values()].map((o) => ({
        ...this.orgJson(o),
        killSwitch: o.killSwitch,
        apiAccessRevoked: o.apiAccessRevoked,
      })),
      wallets,
      ledger: this.ledger.map((e) => this.ledgerJson(e)),
      transfers: this.transfers.map((t) => ({
        id: t.id,
        fromOrganizationId: t.fromOrganizationId,
        toOrganizationId: t.toOrganizationId,
        credits: t.credits,
        trigger: t.trigger,
        description: t.description,
        metadata: { ...t.metadata },
        createdAt: iso(t.createdAt),
      })),
      apiKeys: [...this.keys.values()].map((k) => ({ ...this.keyJson(k), suspended: k.suspended })),
      creditConfigs,
      projects: [...this.projects.values()].map((p) => this.projectJson(p)),
      webhookEndpoints: [...this.endpoints.values()].map((ep) => this.endpointJson(ep)),
      webhookDeliveries: [...this.deliveries.values()].map((d) => ({
        id: d.id,
        endpointId: d.endpointId,
        eventId: d.eventId,
        type: d.type,
        organizationId: d.organizationId,
        attempts: d.attempts,
        status: d.status,
        lastStatus: d.lastStatus,
        lastError: d.lastError,
        createdAt: iso(d.createdAt),
        deliveredAt: isoOrNull(d.deliveredAt),
        payload: JSON.parse(d.payload) as Json,
      })),
      idempotencyKeys: this.idempotency.size,
      totals: this.conservation(),
      requests: { total: this.requests.total, byRoute: structuredClone(this.requests.byRoute) },
      log: this.log.slice(-200) as unknown as Json,
    };
  }

  // ---------------------------------------------------------------- persistence

  toPersisted(): PersistedState {
    return {
      version: 1,
      clockOffsetMs: this.clockOffsetMs,
      frozenAt: this.frozenAt,
      seq: this.seq,
      defaultTier: this.defaultTier,
      customTiers: this.customTiers,
      bootstrap: this.bootstrap,
      orgs: [...this.orgs.values()],
      wallets: [...this.wallets.values()],
      configs: [...this.configs.values()],
      ledger: this.ledger,
      transfers: this.transfers,
      keys: [...this.keys.values()],
      projects: [...this.projects.values()],
      endpoints: [...this.endpoints.values()],
      deliveries: [...this.deliveries.values()],
      idempotency: [...this.idempotency.values()],
      totals: this.totals,
      requests: this.requests,
      log: this.log,
    };
  }

  static fromPersisted(p: PersistedState): Store {
    if (p.version !== 1) throw new Error(`unsupported emulator state version ${String(p.version)}`);
    const s = new Store(p.defaultTier);
    s.clockOffsetMs = p.clockOffsetMs;
    s.frozenAt = p.frozenAt ?? null;
    s.seq = p.seq;
    s.customTiers = p.customTiers;
    s.bootstrap = p.bootstrap;
    for (const o of p.orgs) s.orgs.set(o.id, o);
    for (const w of p.wallets) s.wallets.set(w.organizationId, w);
    for (const c of p.configs) s.configs.set(c.organizationId, c);
    for (const e of p.ledger) {
      s.ledger.push(e);
      const list = s.ledgerByOrg.get(e.organizationId) ?? [];
      list.push(e);
      s.ledgerByOrg.set(e.organizationId, list);
    }
    s.transfers = p.transfers;
    for (const k of p.keys) {
      s.keys.set(k.id, k);
      s.keysByHash.set(k.secretHash, k.id);
    }
    for (const pr of p.projects) s.projects.set(pr.id, pr);
    for (const ep of p.endpoints) s.endpoints.set(ep.id, ep);
    for (const d of p.deliveries) s.deliveries.set(d.id, d);
    for (const r of p.idempotency) s.idempotency.set(r.scopeKey, r);
    s.totals = p.totals;
    s.requests = p.requests;
    s.log = p.log;
    return s;
  }
}
