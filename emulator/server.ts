/**
 * The emulator process: its options, its state (swapped wholesale by /_emulator/reset), the HTTP
 * server and its lifecycle. Requests under /_emulator/ go to the control API (./control), which
 * bypasses auth, limits and faults; everything else goes through the /v1 pipeline (./pipeline.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleControl } from './control';
import type { FaultPlan } from './faults';
import { targetOf } from './http-io';
import { IdempotencyGuard } from './idempotency';
import { newRequestId } from './ids';
import { Persister, fromPersisted, toPersisted } from './persistence';
import { ApiPipeline } from './pipeline';
import { BUILTIN_TIERS, RateLimiter } from './ratelimit';
import { Store } from './store';
import { createKey, keyBySecret } from './store/api-keys';
import { createParentOrg } from './store/organizations';
import { WebhookDispatcher } from './webhooks';

export type BuiltinTier = 'standard' | 'pilot' | 'partner' | 'unlimited';

export interface EmulatorOptions {
  /** Default 4010; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The bootstrap parent key's secret; random `lp_live_<keyid>_<secret>` when omitted. */
  parentKey?: string;
  /** Initial parent wallet balance (default 100000). */
  parentCredits?: number;
  /** Rate-limit tier of the parent key (default partner). */
  tier?: BuiltinTier;
  /** Persist state to `<dataDir>/emulator-state.json` (atomic writes) and load it at start. */
  dataDir?: string;
  /** Silence the emulator's own console output. */
  quiet?: boolean;
  /** Webhook retry backoff base (ms): attempt n waits base · 2^(n-1). Default 1000. */
  webhookRetryBaseMs?: number;
  /** Webhook delivery attempts before a delivery is `failed`. Default 6. */
  webhookMaxAttempts?: number;
  /** Per-attempt webhook request timeout (ms). Default 10000. */
  webhookTimeoutMs?: number;
  /**
   * When set (non-empty), every /_emulator/* request must carry it as `Authorization: Bearer <token>`
   * or `X-Emulator-Token: <token>` (401 otherwise). The CLI reads it from EMULATOR_CONTROL_TOKEN.
   */
  controlToken?: string;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  parentKey?: string;
  parentCredits: number;
  tier: BuiltinTier;
  dataDir?: string;
  quiet: boolean;
  webhookRetryBaseMs: number;
  webhookMaxAttempts: number;
  webhookTimeoutMs: number;
  controlToken: string | null;
}

const PARENT_NAME = 'Layers Partner (emulator)';

export function resolveOptions(o: EmulatorOptions = {}): ResolvedOptions {
  const tier = o.tier ?? 'partner';
  if (!(tier in BUILTIN_TIERS))
    throw new Error(`unknown tier ${tier}: use standard, pilot, partner or unlimited`);
  const parentCredits = o.parentCredits ?? 100_000;
  if (!Number.isSafeInteger(parentCredits) || parentCredits < 0)
    throw new Error('parentCredits must be an integer ≥ 0');
  return {
    port: o.port ?? 4010,
    host: o.host ?? '127.0.0.1',
    parentKey: o.parentKey,
    parentCredits,
    tier,
    dataDir: o.dataDir,
    quiet: o.quiet ?? false,
    webhookRetryBaseMs: o.webhookRetryBaseMs ?? 1000,
    webhookMaxAttempts: o.webhookMaxAttempts ?? 6,
    webhookTimeoutMs: o.webhookTimeoutMs ?? 10_000,
    controlToken: o.controlToken ? o.controlToken : null,
  };
}

export class Emulator {
  store: Store;
  readonly limiter = new RateLimiter();
  faults: FaultPlan | null = null;
  readonly idempotency = new IdempotencyGuard();
  readonly webhooks: WebhookDispatcher;
  readonly persister: Persister | null;
  readonly server: http.Server;
  private readonly api: ApiPipeline;
  private stopped = false;

  constructor(readonly opts: ResolvedOptions) {
    this.persister = opts.dataDir ? new Persister(opts.dataDir, () => toPersisted(this.store)) : null;
    const loaded = this.persister?.load() ?? null;
    this.store = loaded ? fromPersisted(loaded) : this.freshStore();
    if (loaded && opts.parentKey !== undefined) this.adoptParentKey(opts.parentKey);
    this.webhooks = new WebhookDispatcher(() => this.store, {
      baseDelayMs: opts.webhookRetryBaseMs,
      maxAttempts: opts.webhookMaxAttempts,
      timeoutMs: opts.webhookTimeoutMs,
    });
    this.wireStore();
    this.api = new ApiPipeline(this);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!this.opts.quiet) console.error('[layers-emulator] unhandled', e);
        if (!res.headersSent) res.destroy();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  /** A key passed explicitly must work even against a state persisted with another one. */
  private adoptParentKey(secret: string): void {
    if (keyBySecret(this.store, secret)) return;
    const { parentOrganizationId, parentKeyId } = this.store.bootstrap;
    const scopes = this.store.keys.get(parentKeyId)?.scopes ?? [];
    const k = createKey(
      this.store,
      parentOrganizationId,
      'partner admin key',
      scopes,
      this.store.defaultTier,
      secret,
    );
    this.store.bootstrap = { parentOrganizationId, parentKeyId: k.key.id, parentKeySecret: secret };
  }

  /** A brand-new state: the bootstrap parent org, its wallet and its admin key. */
  freshStore(keep?: { orgId: string; keyId: string; secret: string }): Store {
    const store = new Store(this.opts.tier);
    const { org, key, secret } = createParentOrg(
      store,
      PARENT_NAME,
      this.opts.parentCredits,
      keep?.secret ?? this.opts.parentKey,
      keep ? { orgId: keep.orgId, keyId: keep.keyId } : {},
    );
    store.bootstrap = { parentOrganizationId: org.id, parentKeyId: key.id, parentKeySecret: secret };
    return store;
  }

  wireStore(): void {
    this.store.quiet = this.opts.quiet;
    this.store.onChange = () => this.persister?.schedule();
    this.store.onDeliveriesCreated = (ids) => this.webhooks.schedule(ids);
  }

  /** /_emulator/reset: fresh state, same parent org id and key, no faults, real clock. */
  reset(): void {
    this.webhooks.cancelAll();
    this.limiter.reset();
    this.faults = null;
    this.idempotency.clear();
    const b = this.store.bootstrap;
    this.store = this.freshStore({
      orgId: b.parentOrganizationId,
      keyId: b.parentKeyId,
      secret: b.parentKeySecret,
    });
    this.wireStore();
    this.persister?.schedule();
  }

  get parentOrganizationId(): string {
    return this.store.bootstrap.parentOrganizationId;
  }

  get parentKey(): string {
    return this.store.bootstrap.parentKeySecret;
  }

  /** True once close() began: requests still waiting on injected latency are dropped. */
  get closed(): boolean {
    return this.stopped;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.webhooks.resumePending();
    const addr = this.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.webhooks.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (this.persister) {
      this.persister.cancel();
      this.persister.flush();
    }
  }

  countRequest(routeKey: string, status: string): void {
    const reqs = this.store.requests;
    reqs.total++;
    const byStatus = (reqs.byRoute[routeKey] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = newRequestId();
    res.setHeader('X-Request-Id', requestId);
    const target = targetOf(req);
    if (target.path === '/_emulator' || target.path.startsWith('/_emulator/')) {
      await handleControl(this, req, res, requestId, target);
      return;
    }
    await this.api.handle(req, res, requestId, target);
  }
}

export async function createEmulator(
  options: EmulatorOptions = {},
): Promise<{ emulator: Emulator; url: string }> {
  const emulator = new Emulator(resolveOptions(options));
  const url = await emulator.listen();
  return { emulator, url };
}
