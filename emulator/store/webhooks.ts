/**
 * Webhook endpoints, events and deliveries (CONTRACT.md "Webhooks"). Emitting an event creates one
 * delivery per subscribed endpoint — the org's own endpoints (either scope) and its parent's
 * `all_children` endpoints; the dispatcher (../webhooks.ts) sends them, signed, with retries, and
 * logs every attempt on the delivery. An archived org's own endpoints are disabled (emulator decision).
 */
import { conflict } from '../errors';
import { iso, isoOrNull, newDeliveryId, newEndpointId, newSigningSecret, newWebhookEventId } from '../ids';
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
  /** `disabled`: its org was archived (emulator decision); `deleted`: DELETE /v1/webhook-endpoints/:id. */
  status: 'enabled' | 'disabled' | 'deleted';
  createdAt: number;
  deletedAt: number | null;
  signingSecret: string;
  /** The last POST /_emulator/webhook-endpoints/:id/rotate-secret, if any. */
  rotation: SecretRotation | null;
  seq: number;
}

/** A rotated-out signing secret keeps signing (a second `v1=` entry) until `previousSecretValidUntil`. */
export interface SecretRotation {
  previousSigningSecret: string;
  previousSecretValidUntil: number;
  rotatedAt: number;
}

export type EndpointInput = Pick<WebhookEndpoint, 'url' | 'events' | 'description' | 'metadata' | 'scope'>;

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One HTTP attempt of a delivery: its response status (null on a network error) and what followed. */
export interface DeliveryAttempt {
  attempt: number;
  attemptedAt: number;
  httpStatus: number | null;
  error: string | null;
  outcome: 'delivered' | 'retry' | 'failed';
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  type: string;
  organizationId: string;
  /** The endpoint's url when the event was emitted. */
  url: string;
  attempts: number;
  attemptLog: DeliveryAttempt[];
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
    rotation: null,
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

/** Archive: the org's own endpoints stop receiving; their pending deliveries fail. */
export function disableEndpointsOf(s: Store, orgId: string): void {
  for (const ep of s.endpoints.values()) {
    if (ep.organizationId === orgId && ep.status === 'enabled') ep.status = 'disabled';
  }
}

/**
 * A new signing secret; the replaced one keeps signing (a second `v1=` entry) for `graceMs` on the
 * emulator clock. Rotating again within the grace drops the oldest: at most two secrets sign.
 */
export function rotateSigningSecret(s: Store, ep: WebhookEndpoint, graceMs: number): SecretRotation {
  if (ep.status === 'deleted') {
    throw conflict('A deleted webhook endpoint cannot be rotated.', { reason: 'deleted' });
  }
  const now = s.now();
  const rotation = {
    previousSigningSecret: ep.signingSecret,
    previousSecretValidUntil: now + graceMs,
    rotatedAt: now,
  };
  ep.rotation = rotation;
  ep.signingSecret = newSigningSecret();
  return rotation;
}

/** The secrets a delivery is signed with now: the current one, then the previous one while it is valid. */
export function signingSecrets(ep: WebhookEndpoint, now: number): string[] {
  const r = ep.rotation;
  return r !== null && now < r.previousSecretValidUntil
    ? [ep.signingSecret, r.previousSigningSecret]
    : [ep.signingSecret];
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
      url: ep.url,
      attempts: 0,
      attemptLog: [],
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

/** The public shape: never a signing secret. */
export const endpointJson = (ep: WebhookEndpoint): Record<string, Json> =>
  view(ep, 'id organizationId url events scope description metadata status createdAt');

/** GET /_emulator/state adds when the secret was rotated and until when the previous one signs. */
export const endpointStateJson = (ep: WebhookEndpoint): Record<string, Json> => ({
  ...endpointJson(ep),
  secretRotatedAt: isoOrNull(ep.rotation?.rotatedAt ?? null),
  previousSecretValidUntil: isoOrNull(ep.rotation?.previousSecretValidUntil ?? null),
});

const attemptJson = (a: DeliveryAttempt): Record<string, Json> =>
  view(a, 'attempt attemptedAt httpStatus error outcome');

export const deliveryJson = (d: WebhookDelivery): Record<string, Json> => ({
  ...view(
    d,
    'id endpointId eventId type organizationId url attempts status lastStatus lastError createdAt deliveredAt',
  ),
  attemptLog: d.attemptLog.map(attemptJson),
  payload: JSON.parse(d.payload) as Json,
});

/** GET /_emulator/deliveries: one row per attempt, with what identifies the delivery. */
export const attemptRows = (d: WebhookDelivery): Json[] =>
  d.attemptLog.map((a) => ({
    deliveryId: d.id,
    ...view(d, 'endpointId url eventId type organizationId'),
    ...attemptJson(a),
    deliveryStatus: d.status,
  }));
