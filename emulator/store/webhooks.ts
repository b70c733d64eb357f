/**
 * Webhook endpoints, events and deliveries (CONTRACT.md "Webhooks"). Emitting an event creates one
 * delivery per subscribed endpoint — the org's own endpoints (either scope) and its parent's
 * `all_children` endpoints; the dispatcher (../webhooks.ts) sends them, signed, with retries.
 */
import { iso, newDeliveryId, newEndpointId, newWebhookEventId } from '../ids';
import { view } from '../json-view';
import type { Json } from '../validate';
import type { Store } from './index';

export type EndpointScope = 'own' | 'all_children';

export interface WebhookEndpoint {
  id: string;
  organizationId: string;
  url: string;
  events: string[];
  description: string | null;
  metadata: Record<string, string>;
  scope: EndpointScope;
  status: 'enabled' | 'deleted';
  createdAt: number;
  deletedAt: number | null;
  signingSecret: string;
  seq: number;
}

export type EndpointInput = Pick<WebhookEndpoint, 'url' | 'events' | 'description' | 'metadata' | 'scope'>;

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

export function createEndpoint(
  s: Store,
  orgId: string,
  input: EndpointInput,
  signingSecret: string,
): WebhookEndpoint {
  const ep: WebhookEndpoint = {
    id: newEndpointId(),
    organizationId: orgId,
    ...input,
    status: 'enabled',
    createdAt: s.now(),
    deletedAt: null,
    signingSecret,
    seq: s.nextSeq(),
  };
  s.endpoints.set(ep.id, ep);
  return ep;
}

/** Idempotent: a deleted endpoint keeps its first deletion time; its pending deliveries fail. */
export function deleteEndpoint(s: Store, ep: WebhookEndpoint): void {
  if (ep.status === 'deleted') return;
  ep.status = 'deleted';
  ep.deletedAt = s.now();
}

function subscribed(s: Store, ep: WebhookEndpoint, type: string, orgId: string): boolean {
  if (ep.status !== 'enabled' || !ep.events.includes(type)) return false;
  if (ep.organizationId === orgId) return true;
  return ep.scope === 'all_children' && s.orgs.get(orgId)?.parentOrganizationId === ep.organizationId;
}

/** Record an event of `orgId` and create its deliveries. Returns the webhook event id. */
export function emit(s: Store, type: string, orgId: string, data: Record<string, Json>): string {
  const now = s.now();
  const eventId = newWebhookEventId(now);
  const payload = JSON.stringify({
    id: eventId,
    type,
    createdAt: iso(now),
    data: { organizationId: orgId, ...data },
  });
  const created: string[] = [];
  for (const ep of s.endpoints.values()) {
    if (!subscribed(s, ep, type, orgId)) continue;
    const d: WebhookDelivery = {
      id: newDeliveryId(now),
      endpointId: ep.id,
      eventId,
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
      seq: s.nextSeq(),
    };
    s.deliveries.set(d.id, d);
    created.push(d.id);
  }
  if (created.length > 0) s.onDeliveriesCreated(created);
  return eventId;
}

/** The public shape: never the signing secret. */
export const endpointJson = (ep: WebhookEndpoint): Record<string, Json> =>
  view(ep, 'id organizationId url events scope description metadata status createdAt');

export const deliveryJson = (d: WebhookDelivery): Record<string, Json> => ({
  ...view(
    d,
    'id endpointId eventId type organizationId attempts status lastStatus lastError createdAt deliveredAt',
  ),
  payload: JSON.parse(d.payload) as Json,
});
