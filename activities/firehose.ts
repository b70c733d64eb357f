/**
 * Webhook endpoints, split by who they serve (issue 14 item 2):
 *
 * - The partner's firehose is configuration, not customer input: LAYERS_FIREHOSE_URL and
 *   LAYERS_FIREHOSE_EVENTS name the partner's own receiver, and `ensurePartnerFirehose` keeps exactly
 *   one parent endpoint with scope `all_children` there — reused only when url AND events match,
 *   created with the events sorted exactly as its idempotency key is built (so concurrent ensures with
 *   the events in another order send one identical body), and the old endpoint at that URL deleted
 *   when the configured events change. An existing per-customer `all_children` endpoint found at the
 *   partner URL is adopted (the migration path); others are listed and deleted by
 *   `scripts/firehose-endpoints.ts`. Its signing secret goes to the secret sink as kind
 *   `firehose-signing-secret`, id = endpoint id (file sink: `firehose-signing-secret-<whe_…>.json`): a
 *   receiver accepts every such secret whose endpoint still exists — the newest is current, the one
 *   before it the previous.
 * - A customer's own URL (`start --webhook-url`) becomes a child-scoped endpoint: scope `own`, created
 *   inside the child with the parent key and X-Layers-Organization, so it receives that child's events
 *   only. The URL passes common/webhook-url.ts and every address its name resolves to is checked here.
 *   `deleteCustomerWebhooks` removes it at offboarding (before the archive).
 */
import { createHash } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { ApplicationFailure } from '@temporalio/common';
import { checkWebhookUrl, forbiddenAddressReason, type WebhookUrlPolicy } from '../common/webhook-url';
import type { LayersClient, WebhookEndpoint } from './layers';
import { callOptions, layersCall } from './layers-call';
import type { SecretSink } from './secret-sink';

export interface PartnerFirehoseConfig {
  url: string;
  /** Sorted, unique. */
  events: string[];
}

/** Resolves a host name to every address it has (dns.lookup with all: true). Tests inject their own. */
export type HostResolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export interface FirehoseActivityDeps {
  layers: LayersClient;
  secretSink: SecretSink;
  /** LAYERS_FIREHOSE_URL / LAYERS_FIREHOSE_EVENTS; undefined: no partner firehose. */
  firehose?: PartnerFirehoseConfig;
  /** Local mode (emulator): http allowed, unresolvable names let through; see common/webhook-url.ts. */
  webhookUrlPolicy?: WebhookUrlPolicy;
  resolveHost?: HostResolver;
}

/** Marks the endpoints this orchestrator creates inside a child, so offboarding deletes those and no others. */
export const MANAGED_BY = 'layers-onboarding';
export const WEBHOOK_URL_REFUSED = 'WebhookUrlRefused';

const NAMESPACE = '6f1c2a5e-3b7d-4c2a-9e51-0d8b4f7a9c31';

/** RFC 4122 v5 UUID (same namespace as workflows/idempotency.ts). */
function uuidV5(name: string): string {
  const ns = Buffer.from(NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The partner firehose's key: built from the SORTED events, and the body sends them sorted too. */
export function partnerFirehoseIdempotencyKey(url: string, events: string[]): string {
  return uuidV5(`firehose|${url}|all_children|${normalizeEvents(events).join(',')}`);
}

export function normalizeEvents(events: readonly string[]): string[] {
  return [...new Set(events)].sort();
}

const sameEvents = (a: readonly string[], b: readonly string[]) =>
  normalizeEvents(a).join(',') === normalizeEvents(b).join(',');

function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: WEBHOOK_URL_REFUSED, nonRetryable: true, message });
}

/**
 * The static rules, then every address the name resolves to. A name that does not resolve is refused
 * too outside local mode (Layers could not deliver there, and it may resolve somewhere private later). The check is at
 * registration time: Layers resolves the name again on every delivery, which this cannot govern.
 */
export async function checkWebhookUrlResolved(
  url: string,
  field: string,
  policy: WebhookUrlPolicy = {},
  resolveHost: HostResolver = (host) => dnsLookup(host, { all: true, verbatim: true }),
): Promise<void> {
  const staticError = checkWebhookUrl(url, field, policy);
  if (staticError) throw refused(staticError);
  const host = new URL(url).hostname;
  if (/^\[.*\]$/.test(host) || /^\d+\.\d+\.\d+\.\d+$/.test(host)) return; // a literal, already checked
  let addresses: Array<{ address: string }>;
  try {
    addresses = await resolveHost(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') {
      if (policy.localMode) return;
      throw refused(`${field}: ${host} does not resolve`);
    }
    throw err; // a resolver outage is retryable
  }
  if (!addresses.length) throw refused(`${field}: ${host} does not resolve`);
  for (const { address } of addresses) {
    const reason = forbiddenAddressReason(address);
    if (reason)
      throw refused(
        `${field}: ${host} resolves to ${address}, which ${reason}; webhooks go to a public https receiver`,
      );
  }
}

export interface PartnerFirehoseResult {
  configured: boolean;
  endpointId?: string;
  outcome?: 'reused' | 'adopted' | 'created';
  /** Endpoints at the partner URL with other events, deleted after the new one existed. */
  replaced?: string[];
  secretRef?: string;
}

export interface CustomerWebhookInput {
  orgId: string;
  externalId: string;
  url: string;
  events: string[];
  idempotencyKey: string;
}

export function createFirehoseActivities(deps: FirehoseActivityDeps) {
  const { layers, secretSink } = deps;
  const policy = deps.webhookUrlPolicy ?? {};
  // Once per worker process and configuration: after the first success no onboarding calls Layers for it.
  let ensured: Promise<PartnerFirehoseResult> | undefined;

  async function listParentEndpoints(): Promise<WebhookEndpoint[]> {
    const all: WebhookEndpoint[] = [];
    for await (const endpoint of layers.listAllWebhookEndpoints(callOptions())) all.push(endpoint);
    return all;
  }

  async function ensurePartner(config: PartnerFirehoseConfig): Promise<PartnerFirehoseResult> {
    const events = normalizeEvents(config.events);
    const atUrl = (await listParentEndpoints()).filter(
      (e) => e.scope === 'all_children' && e.url === config.url && e.status !== 'deleted',
    );
    const match = atUrl.find((e) => sameEvents(e.events, events));
    let endpointId: string;
    let outcome: PartnerFirehoseResult['outcome'];
    let secretRef: string | undefined;
    if (match) {
      endpointId = match.id;
      outcome =
        match.metadata?.managedBy === MANAGED_BY && match.metadata?.role === 'partner-firehose'
          ? 'reused'
          : 'adopted';
    } else {
      const created = await layers.createWebhookEndpoint(
        {
          url: config.url,
          events,
          scope: 'all_children',
          description: 'Partner firehose (LAYERS_FIREHOSE_URL)',
          metadata: { managedBy: MANAGED_BY, role: 'partner-firehose' },
        },
        callOptions({ idempotencyKey: partnerFirehoseIdempotencyKey(config.url, events) }),
      );
      endpointId = created.id;
      outcome = 'created';
      secretRef = await secretSink.store({
        kind: 'firehose-signing-secret',
        id: created.id,
        secret: created.signingSecret,
      });
    }
    // Configured events changed: the endpoints at this URL with the old events go, once the new one exists.
    const replaced: string[] = [];
    for (const stale of atUrl.filter((e) => e.id !== endpointId && !sameEvents(e.events, events))) {
      await deleteEndpoint(stale.id);
      replaced.push(stale.id);
    }
    return { configured: true, endpointId, outcome, replaced, ...(secretRef ? { secretRef } : {}) };
  }

  async function deleteEndpoint(id: string, organizationId?: string): Promise<void> {
    try {
      await layers.deleteWebhookEndpoint(id, callOptions(organizationId ? { organizationId } : {}));
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err; // already gone
    }
  }

  return {
    /** Keeps the partner's one `all_children` endpoint in line with the configuration (a write: write queue). */
    async ensurePartnerFirehose(): Promise<PartnerFirehoseResult> {
      const config = deps.firehose;
      if (!config) return { configured: false };
      return layersCall(async () => {
        ensured ??= ensurePartner(config);
        try {
          return await ensured;
        } catch (err) {
          ensured = undefined;
          throw err;
        }
      });
    },

    /** The customer's own URL as a child-scoped (`own`) endpoint inside its org; the secret goes to the sink. */
    async ensureCustomerWebhook(
      input: CustomerWebhookInput,
    ): Promise<{ endpointId: string; created: boolean; secretRef?: string }> {
      await checkWebhookUrlResolved(input.url, 'firehose.url', policy, deps.resolveHost);
      return layersCall(async () => {
        const events = normalizeEvents(input.events);
        const inChild = callOptions({ organizationId: input.orgId });
        for await (const endpoint of layers.listAllWebhookEndpoints(inChild)) {
          if (
            endpoint.url === input.url &&
            endpoint.scope === 'own' &&
            sameEvents(endpoint.events, events) &&
            endpoint.metadata?.managedBy === MANAGED_BY
          ) {
            return { endpointId: endpoint.id, created: false };
          }
        }
        const created = await layers.createWebhookEndpoint(
          {
            url: input.url,
            events,
            scope: 'own',
            description: `Webhook of ${input.externalId}`.slice(0, 500),
            metadata: { managedBy: MANAGED_BY, externalId: input.externalId },
          },
          callOptions({ idempotencyKey: input.idempotencyKey, organizationId: input.orgId }),
        );
        const secretRef = await secretSink.store({
          kind: 'webhook-signing-secret',
          id: created.id,
          secret: created.signingSecret,
          organizationId: input.orgId,
          externalId: input.externalId,
        });
        return { endpointId: created.id, created: true, secretRef };
      });
    },

    /** Offboarding: deletes the endpoints this orchestrator created inside the child (before it is archived). */
    async deleteCustomerWebhooks(input: { orgId: string }): Promise<{ deleted: string[] }> {
      return layersCall(async () => {
        const inChild = callOptions({ organizationId: input.orgId });
        const ours: string[] = [];
        for await (const endpoint of layers.listAllWebhookEndpoints(inChild)) {
          if (endpoint.metadata?.managedBy === MANAGED_BY) ours.push(endpoint.id);
        }
        for (const id of ours) await deleteEndpoint(id, input.orgId);
        return { deleted: ours };
      });
    },
  };
}
