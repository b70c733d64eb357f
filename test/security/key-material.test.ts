// Issue 14 item 6: key material anywhere in free text is caught (no reliance on \b), with a length limit,
// and the client refuses pause/resume/churn/reactivate reasons that carry it before anything is sent.
import { Client, Connection } from '@temporalio/client';
import { checkFreeText, checkFreeTextDeep, findKeyMaterial } from '../../common/key-material';
import { InvalidInputError, OnboardingClient } from '../../client';

const KEY = 'lp_live_ABCDEFGHJKMNPQRS';
const WHSEC = 'whsec_0123456789abcdefABCDEF';

describe('key material in free text', () => {
  test.each([
    `x_${KEY}`,
    `key${KEY}`,
    `token=${KEY}`,
    `Bearer ${KEY}`,
    `a_${WHSEC}`,
    KEY.toUpperCase(),
    `lp_live_\u200bABCDEFGHJKMNPQRS`,
    `see https://x.example/?k=${KEY}&y=1`,
  ])('%j is caught wherever it sits', (text) => {
    expect(findKeyMaterial({ reason: text })).toEqual(['reason']);
    expect(checkFreeText(text, 'reason')).toMatch(/^reason: looks like a Layers secret/);
    expect(checkFreeText(text, 'reason')).not.toContain('ABCDEFGH');
  });

  test('ordinary text passes; the length limit names the field', () => {
    expect(checkFreeText('invoice overdue (lp_ plan, live_ soon)', 'reason')).toBeUndefined();
    expect(checkFreeText(undefined, 'notes')).toBeUndefined();
    expect(checkFreeText(undefined, 'notes', { required: true })).toBe('notes: required');
    expect(checkFreeText('x'.repeat(501), 'reason', { maxLength: 500 })).toBe(
      'reason: must be at most 500 characters (got 501)',
    );
    expect(checkFreeText(42, 'reason')).toBe('reason: must be a string');
  });

  test('deep check names every path, including metadata keys', () => {
    expect(
      checkFreeTextDeep(
        { customer: { name: 'Acme', metadata: { note: `x_${KEY}`, [`k_${KEY}`]: 'v' } } },
        'request',
      ),
    ).toEqual([
      expect.stringMatching(/^request\.customer\.metadata\.note: looks like a Layers secret/),
      expect.stringMatching(/^request\.customer\.metadata\.\(key\): looks like a Layers secret/),
    ]);
  });
});

describe('the client refuses key material in lifecycle reasons before sending anything', () => {
  // Nothing listens on port 1: a request that got past validation would fail with a connection error instead.
  const crm = new OnboardingClient(
    new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
    'unused',
  );

  test.each([
    ['pause', () => crm.pause('acme-coffee', { reason: `hold x_${KEY}`, eventId: 'e1' })],
    ['resume', () => crm.resume('acme-coffee', { reason: `paid ${WHSEC}`, eventId: 'e2' })],
    ['churn', () => crm.churnAndWait('acme-coffee', { reason: `x_${KEY}`, eventId: 'e3' })],
    ['reactivate', () => crm.reactivate('acme-coffee', { reason: `x_${KEY}`, eventId: 'e4' })],
  ])('%s', async (_kind, call) => {
    const err = await call().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/reason: looks like a Layers secret/);
  });

  test('start: x_lp_live_… in metadata is refused naming the field', async () => {
    const err = await crm
      .start({
        customer: { externalId: 'acme-coffee', name: 'Acme', metadata: { note: `x_${KEY}` } },
        apiKey: { scopes: ['content:read'] },
        credits: 1,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toContain('customer.metadata.note');
  });
});
