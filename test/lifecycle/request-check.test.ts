import {
  checkLifecycleRequest,
  parseLifecycleRequest,
  LIFECYCLE_REQUEST_KINDS,
} from '../../common/lifecycle-input';

// The workflow decides signals with checkLifecycleRequest (plain code, replay-safe) while the client and
// update validators use the zod schemas: the two must agree, or a signal the client accepts would be
// refused by the workflow (or the reverse).
describe("the workflow's plain-code request check agrees with the zod schemas", () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const payloads: unknown[] = [
    { reason: 'hold', eventId: 'e1' },
    { reason: '  padded  ', eventId: 'e1' },
    { reason: '', eventId: 'e1' },
    { reason: '   ', eventId: 'e1' },
    { reason: 'x'.repeat(500), eventId: 'e1' },
    { reason: 'x'.repeat(501), eventId: 'e1' },
    { reason: 'hold', eventId: '' },
    { reason: 'hold', eventId: 'e\u0007' },
    { reason: 'hold', eventId: 'x'.repeat(201) },
    { reason: 'hold' },
    { eventId: 'e1' },
    { reason: 42, eventId: 'e1' },
    { reason: 'hold', eventId: 'e1', extra: true },
    { reason: 'hold', eventId: 'e1', until: '2026-07-01T09:00:00Z' },
    { reason: 'hold', eventId: 'e1', until: '2026-07-01T09:00:00.123+02:00' },
    { reason: 'hold', eventId: 'e1', until: '2026-05-01T09:00:00Z' },
    { reason: 'hold', eventId: 'e1', until: '2036-07-01T09:00:00Z' },
    { reason: 'hold', eventId: 'e1', until: '2026-07-01' },
    { reason: 'hold', eventId: 'e1', until: 'next tuesday' },
    { reason: 'hold', eventId: 'e1', effectiveAt: '2026-07-01T09:00:00Z', drain: true },
    { reason: 'hold', eventId: 'e1', drain: 'yes' },
    null,
    'pause',
    [],
  ];

  for (const kind of LIFECYCLE_REQUEST_KINDS) {
    test(kind, () => {
      for (const payload of payloads) {
        const viaZod = parseLifecycleRequest(kind, payload, now);
        const plain = checkLifecycleRequest(kind, payload, now);
        expect({ payload, ok: plain.ok }).toEqual({ payload, ok: viaZod.ok });
        if (viaZod.ok && plain.ok) expect(plain.value).toEqual(viaZod.value);
      }
    });
  }
});
