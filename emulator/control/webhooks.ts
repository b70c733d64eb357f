/** Control routes over webhooks: emitting an event of any type for any org. */
import { validation } from '../errors';
import { ok } from '../http-io';
import { emit } from '../store/webhooks';
import { WEBHOOK_EVENT_TYPES, isObject } from '../validate';
import { optionalOrg, type ControlRoute } from './kit';

export const webhookControlRoutes: ControlRoute[] = [
  {
    method: 'POST',
    pattern: '/_emulator/webhooks/emit',
    handle: (c) => {
      const b = c.body(['organizationId', 'type', 'data']);
      const org = optionalOrg(c, b);
      if (typeof b.type !== 'string' || !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(b.type)) {
        throw validation('type', `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
      }
      const data = b.data === undefined ? {} : b.data;
      if (!isObject(data)) throw validation('data', 'must be an object');
      const before = c.store.deliveries.size;
      const eventId = emit(c.store, b.type, org.id, data);
      c.store.onChange();
      return ok({ eventId, deliveries: c.store.deliveries.size - before });
    },
  },
];
