import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileSecretSink } from '../../activities/secret-sink';
import { loadGatewayConfig } from '../../gateway/config';
import { FileSinkFirehoseSecrets } from '../../gateway/firehose/secrets';
import { canonicalJson, differingFields, requestHash } from '../../gateway/idempotency';
import { signGatewayRequest, verifySignature, gatewaySignedPayload } from '../../gateway/signature';

const SECRET = 'a-signing-secret-of-some-length';

describe('gateway configuration', () => {
  test('needs a way to authenticate, names the variable, defaults to loopback', () => {
    expect(() => loadGatewayConfig({})).toThrow(/^GATEWAY_SIGNING_SECRETS: /);
    expect(() => loadGatewayConfig({ GATEWAY_TOKENS: 'short' })).toThrow(
      /^GATEWAY_TOKENS: every entry needs at least 16/,
    );
    expect(() => loadGatewayConfig({ GATEWAY_SIGNING_SECRETS: SECRET, GATEWAY_PORT: 'eighty' })).toThrow(
      /^GATEWAY_PORT: /,
    );
    const config = loadGatewayConfig({
      GATEWAY_SIGNING_SECRETS: ` ${SECRET} , second-secret-0123456789 `,
      CRM_EVENTS_URL: 'https://crm.example.com/in',
    });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      signingSecrets: [SECRET, 'second-secret-0123456789'],
      temporalUiUrl: 'http://127.0.0.1:8233',
    });
    // Forwarded events are signed with the first gateway secret unless the CRM has its own.
    expect(config.crmEvents).toEqual({ url: 'https://crm.example.com/in', signingSecret: SECRET });
    expect(
      loadGatewayConfig({
        GATEWAY_TOKENS: 'a-bearer-token-0123456789',
        CRM_EVENTS_URL: 'https://crm.example.com/in',
        CRM_EVENTS_SIGNING_SECRET: 'x',
      }).crmEvents?.signingSecret,
    ).toBe('x');
    expect(() =>
      loadGatewayConfig({
        GATEWAY_TOKENS: 'a-bearer-token-0123456789',
        CRM_EVENTS_URL: 'https://crm.example.com/in',
      }),
    ).toThrow(/^CRM_EVENTS_SIGNING_SECRET: /);
  });
});

describe('signatures', () => {
  const body = Buffer.from('{"a":1}');
  const payload = (t: string) => gatewaySignedPayload(t, 'POST', '/v1/x', body);

  test('any of several secrets and several v1 entries; stale, malformed and tampered refused', () => {
    const now = Date.now();
    expect(
      verifySignature(
        signGatewayRequest(SECRET, 'POST', '/v1/x', body, now),
        ['other-secret-0123456789', SECRET],
        payload,
        now,
      ),
    ).toEqual({ ok: true, secretIndex: 1 });
    const t = Math.floor(now / 1000);
    const two = `t=${t},v1=${'0'.repeat(64)},v1=${signGatewayRequest(SECRET, 'POST', '/v1/x', body, now).split('v1=')[1]}`;
    expect(verifySignature(two, [SECRET], payload, now).ok).toBe(true);
    expect(
      verifySignature(
        signGatewayRequest(SECRET, 'POST', '/v1/x', body, now - 301_000),
        [SECRET],
        payload,
        now,
      ),
    ).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature('v1=abc', [SECRET], payload, now)).toEqual({ ok: false, reason: 'malformed' });
    expect(
      verifySignature(signGatewayRequest(SECRET, 'POST', '/v1/y', body, now), [SECRET], payload, now),
    ).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(undefined, [SECRET], payload, now)).toEqual({ ok: false, reason: 'missing' });
  });
});

describe('request comparison', () => {
  test('canonical: key order does not matter, values do; differences are named by path', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,2]},"b":1}');
    expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
    expect(
      differingFields(
        { credits: 1, customer: { name: 'A', metadata: { plan: 'x' } }, firehose: { events: ['a', 'b'] } },
        { credits: 2, customer: { name: 'A' }, firehose: { events: ['a', 'c'] } },
      ),
    ).toEqual(['credits', 'customer.metadata', 'firehose.events.1']);
  });
});

describe('firehose secrets from the file sink', () => {
  test("only the partner firehose's secrets, newest first; customer endpoints' secrets are not read", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-firehose-secrets-'));
    const sink = new FileSecretSink(dir);
    // The previous partner secret, stored earlier (written by hand to fix its storedAt).
    writeFileSync(
      path.join(dir, 'firehose-signing-secret-whe_old.json'),
      JSON.stringify({
        kind: 'firehose-signing-secret',
        id: 'whe_old',
        secret: 'whsec_partner_old',
        storedAt: '2026-01-01T00:00:00.000Z',
      }),
      { mode: 0o600 },
    );
    await sink.store({ kind: 'webhook-signing-secret', id: 'whe_cust', secret: 'whsec_customer' });
    await sink.store({ kind: 'firehose-signing-secret', id: 'whe_new', secret: 'whsec_partner_new' });
    // A customer's secret copied under a firehose name still says what it is.
    writeFileSync(
      path.join(dir, 'firehose-signing-secret-whe_copied.json'),
      JSON.stringify({ kind: 'webhook-signing-secret', id: 'whe_copied', secret: 'whsec_customer_copy' }),
      { mode: 0o600 },
    );
    expect(await new FileSinkFirehoseSecrets(dir).current()).toEqual([
      'whsec_partner_new',
      'whsec_partner_old',
    ]);
  });
});
