/**
 * The emulator's whole state: one table per resource, the emulator clock and the request counters.
 * The operations on each resource live in their own module, the way the Layers docs are organised:
 *
 *   organizations.ts  child orgs: create, suspend/resume, metadata, archive
 *   api-keys.ts       keys: mint, rotate, revoke, authenticate by secret
 *   credits.ts        wallets, the ledger, transfers and allocate
 *   credit-config.ts  the monthly cap and auto-refill
 *   usage.ts          the reserve / settle / release stand-in for content generation
 *   projects.ts       projects
 *   webhooks.ts       webhook endpoints, events and their deliveries
 *   snapshot.ts       the GET /_emulator/state view
 *
 * (Idempotency records are kept here too; their rules are in ../idempotency.ts, the file form in
 * ../persistence.ts.) Every operation is synchronous: the HTTP layer calls one of them per request,
 * so each runs atomically with respect to every other request (Node runs one JavaScript turn at a
 * time), which is what makes the idempotency guard and credit conservation hold under concurrency.
 */
import { IDEMPOTENCY_TTL_MS, type IdemRecord } from '../idempotency';
import { iso } from '../ids';
import { BUILTIN_TIERS, type TierLimits } from '../ratelimit';
import type { ApiKeyRec } from './api-keys';
import type { CreditConfig } from './credit-config';
import type { LedgerEvent, Transfer, Wallet } from './credits';
import type { Org } from './organizations';
import type { Project } from './projects';
import type { WebhookDelivery, WebhookEndpoint } from './webhooks';

export interface LogEntry {
  at: string;
  level: 'info' | 'warn';
  message: string;
  organizationId?: string;
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

  /** Drop idempotency records older than 24 h (emulator clock). Called lazily. */
  expireIdempotency(): void {
    const cutoff = this.now() - IDEMPOTENCY_TTL_MS;
    for (const [k, r] of this.idempotency) {
      if (r.createdAt <= cutoff) this.idempotency.delete(k);
    }
  }
}
