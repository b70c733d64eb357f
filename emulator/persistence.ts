/**
 * Optional persistence (--data-dir): the whole state as JSON in `<dataDir>/emulator-state.json`,
 * written privately and atomically by ./state-file.ts. Writes are debounced (coalesced within
 * `debounceMs` of the first change) and flushed synchronously on close.
 */
import path from 'node:path';
import type { IdemRecord } from './idempotency';
import type { TierLimits } from './ratelimit';
import { Store, type LogEntry } from './store';
import type { ApiKeyRec } from './store/api-keys';
import type { CreditConfig } from './store/credit-config';
import { indexLedgerEvent, type LedgerEvent, type Transfer, type Wallet } from './store/credits';
import type { Org } from './store/organizations';
import type { Project } from './store/projects';
import type { WebhookDelivery, WebhookEndpoint } from './store/webhooks';
import { preparePrivateDir, readPrivateFile, removeStaleTemps, writePrivateFileAtomic } from './state-file';

export const STATE_FILE = 'emulator-state.json';

/** The persisted form: plain arrays, no Maps. */
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

export function toPersisted(s: Store): PersistedState {
  return {
    version: 1,
    clockOffsetMs: s.clockOffsetMs,
    frozenAt: s.frozenAt,
    seq: s.seq,
    defaultTier: s.defaultTier,
    customTiers: s.customTiers,
    bootstrap: s.bootstrap,
    orgs: [...s.orgs.values()],
    wallets: [...s.wallets.values()],
    configs: [...s.configs.values()],
    ledger: s.ledger,
    transfers: s.transfers,
    keys: [...s.keys.values()],
    projects: [...s.projects.values()],
    endpoints: [...s.endpoints.values()],
    deliveries: [...s.deliveries.values()],
    idempotency: [...s.idempotency.values()],
    totals: s.totals,
    requests: s.requests,
    log: s.log,
  };
}

/** A record as an older file may hold it: without the fields in K. */
type Legacy<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

/** Fields added to version 1 later: an older file lacks them, and they take their defaults. */
function upgrade(p: PersistedState): void {
  const urls = new Map(p.endpoints.map((ep) => [ep.id, ep.url]));
  for (const ep of p.endpoints as Legacy<WebhookEndpoint, 'rotation'>[]) ep.rotation ??= null;
  for (const d of p.deliveries as Legacy<WebhookDelivery, 'url' | 'attemptLog'>[]) {
    d.url ??= urls.get(d.endpointId) ?? '';
    d.attemptLog ??= [];
  }
}

/** Rebuild a store (tables and indexes) from its persisted form. */
export function fromPersisted(p: PersistedState): Store {
  if (p.version !== 1) throw new Error(`unsupported emulator state version ${String(p.version)}`);
  const s = new Store(p.defaultTier);
  s.clockOffsetMs = p.clockOffsetMs;
  s.frozenAt = p.frozenAt ?? null;
  s.seq = p.seq;
  s.customTiers = p.customTiers;
  s.bootstrap = p.bootstrap;
  const fill = <T>(table: Map<string, T>, rows: T[], id: (row: T) => string): void => {
    for (const row of rows) table.set(id(row), row);
  };
  fill(s.orgs, p.orgs, (o) => o.id);
  fill(s.wallets, p.wallets, (w) => w.organizationId);
  fill(s.configs, p.configs, (c) => c.organizationId);
  fill(s.keys, p.keys, (k) => k.id);
  for (const k of p.keys) s.keysByHash.set(k.secretHash, k.id);
  fill(s.projects, p.projects, (pr) => pr.id);
  upgrade(p);
  fill(s.endpoints, p.endpoints, (ep) => ep.id);
  fill(s.deliveries, p.deliveries, (d) => d.id);
  fill(s.idempotency, p.idempotency, (r) => r.scopeKey);
  for (const e of p.ledger) indexLedgerEvent(s, e);
  s.transfers = p.transfers;
  s.totals = p.totals;
  s.requests = p.requests;
  s.log = p.log;
  return s;
}

export class Persister {
  private timer: NodeJS.Timeout | null = null;
  private readonly file: string;

  constructor(
    dataDir: string,
    private readonly snapshot: () => PersistedState,
    private readonly debounceMs = 50,
  ) {
    preparePrivateDir(dataDir);
    this.file = path.join(dataDir, STATE_FILE);
    removeStaleTemps(this.file);
  }

  load(): PersistedState | null {
    const text = readPrivateFile(this.file);
    return text === null ? null : (JSON.parse(text) as PersistedState);
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.writeNow();
    }, this.debounceMs);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.writeNow();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private writeNow(): void {
    writePrivateFileAtomic(this.file, JSON.stringify(this.snapshot()));
  }
}
