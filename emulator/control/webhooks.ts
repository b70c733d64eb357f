/**
 * Control routes over webhooks: emitting an event of any type for any org, the per-attempt delivery
 * log, and signing-secret rotation (the docs have no rotate endpoint; CONTRACT.md's receivers accept
 * several `v1=` entries — emulator decision).
 */
import { notFound, validation } from '../errors';
import { ok } from '../http-io';
import { iso } from '../ids';
import { GRACE_MS } from '../store/api-keys';
import { attemptRows, emit, rotateSigningSecret } from '../store/webhooks';
import { WEBHOOK_EVENT_TYPES, checkId, integer, isObject, type Json } from '../validate';
import { optionalOrg, type ControlRoute } from './kit';

const isEventType = (v: unknown): v is string =>
  typeof v === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(v);

/** The filters of GET /_emulator/deliveries: each optional, unknown ones refused (422, so a typo cannot match everything). */
const DELIVERY_FILTERS: Record<string, (v: string) => string> = {
  endpointId: (v) => checkId(v, 'whe_', 'endpointId'),
  organizationId: (v) => checkId(v, 'org_', 'organizationId'),
  eventId: (v) => checkId(v, 'evt_', 'eventId'),
  type: (v) => {
    if (!isEventType(v)) throw validation('type', `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
    return v;
  },
};

function deliveryFilters(query: URLSearchParams): Record<string, string> {
  const filters: Record<string, string> = {};
  for (const [name, value] of query) {
    const check = DELIVERY_FILTERS[name];
    if (!check) throw validation(name, `is not a filter: use ${Object.keys(DELIVERY_FILTERS).join(', ')}`);
    filters[name] = check(value);
  }
  return filters;
}

export const webhookControlRoutes: ControlRoute[] = [
  {
    method: 'POST',
    pattern: '/_emulator/webhooks/emit',
    handle: (c) => {
      const b = c.body(['organizationId', 'type', 'data']);
      const org = optionalOrg(c, b);
      if (!isEventType(b.type)) throw validation('type', `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
      const data = b.data === undefined ? {} : b.data;
      if (!isObject(data)) throw validation('data', 'must be an object');
      const before = c.store.deliveries.size;
      const eventId = emit(c.store, b.type, org.id, data);
      c.store.onChange();
      return ok({ eventId, deliveries: c.store.deliveries.size - before });
    },
  },
  {
    method: 'GET',
    pattern: '/_emulator/deliveries',
    handle: (c) => {
      const filters = deliveryFilters(c.query);
      const items: Json[] = [];
      for (const d of c.store.deliveries.values()) {
        const fields: Record<string, string> = {
          endpointId: d.endpointId,
          organizationId: d.organizationId,
          eventId: d.eventId,
          type: d.type,
        };
        if (Object.entries(filters).every(([k, v]) => fields[k] === v)) items.push(...attemptRows(d));
      }
      return ok({ items });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/webhook-endpoints/:endpointId/rotate-secret',
    handle: (c) => {
      const ep = c.store.endpoints.get(checkId(c.params.endpointId, 'whe_', 'endpointId'));
      if (!ep) throw notFound('Webhook endpoint');
      const b = c.body(['graceMs']);
      const graceMs = integer(b.graceMs, 'graceMs', 0) ?? GRACE_MS;
      const rotation = rotateSigningSecret(c.store, ep, graceMs);
      c.store.onChange();
      return ok({
        endpointId: ep.id,
        signingSecret: ep.signingSecret,
        previousSecretValidUntil: iso(rotation.previousSecretValidUntil),
      });
    },
  },
];
