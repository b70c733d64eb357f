/** Pure parts of the Layers client: classification, Retry-After, redaction, failure mapping, schemas. */
import fc from 'fast-check';

import {
  Allocation,
  LayersApiError,
  LayersContractError,
  LayersFailureType,
  MintedApiKey,
  Organization,
  OrganizationWithSummary,
  classifyLayersError,
  parseRetryAfter,
  redactSecrets,
  toApplicationFailure,
  toTemporalFailure,
} from '../../activities/layers';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

describe('classifyLayersError', () => {
  const cases: Array<[number | undefined, string, Record<string, unknown> | undefined, string]> = [
    [undefined, 'NETWORK_ERROR', undefined, 'retryable'],
    [undefined, 'TIMEOUT', undefined, 'retryable'],
    [undefined, 'ABORTED', undefined, 'retryable'],
    [500, 'PLATFORM_ERROR', undefined, 'retryable'],
    [502, 'HTTP_502', undefined, 'retryable'],
    [503, 'PLATFORM_ERROR', undefined, 'retryable'],
    [429, 'RATE_LIMITED', undefined, 'retryable'],
    [409, 'IDEMPOTENCY_CONFLICT', { reason: 'in_flight' }, 'retryable'],
    [503, 'KILL_SWITCH', { scope: 'org' }, 'blocked'],
    [402, 'BILLING_EXHAUSTED', undefined, 'insufficient_funds'],
    [402, 'BILLING_EXHAUSTED', { reason: 'cap' }, 'insufficient_funds'],
    [400, 'IDEMPOTENCY_REQUIRED', undefined, 'non_retryable'],
    [401, 'UNAUTHENTICATED', undefined, 'non_retryable'],
    [403, 'FORBIDDEN_SCOPE', undefined, 'non_retryable'],
    [404, 'NOT_FOUND', undefined, 'non_retryable'],
    [409, 'CONFLICT', undefined, 'non_retryable'],
    [409, 'IDEMPOTENCY_CONFLICT', { reason: 'body_mismatch' }, 'non_retryable'],
    [409, 'IDEMPOTENCY_CONFLICT', undefined, 'non_retryable'],
    [422, 'VALIDATION', undefined, 'non_retryable'],
    [418, 'HTTP_418', undefined, 'non_retryable'],
  ];
  it.each(cases)('%s %s %j -> %s', (status, code, details, expected) => {
    expect(classifyLayersError(status, code, details)).toBe(expected);
  });

  it('every 5xx other than KILL_SWITCH is retryable', () => {
    fc.assert(
      fc.property(fc.integer({ min: 500, max: 599 }), fc.string(), (status, code) => {
        fc.pre(code !== 'KILL_SWITCH');
        return classifyLayersError(status, code) === 'retryable';
      }),
    );
  });

  it('4xx other than 429 / 402 BILLING_EXHAUSTED / 409 in_flight is non-retryable', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 499 }),
        fc.constantFrom('VALIDATION', 'NOT_FOUND', 'X', 'CONFLICT'),
        (status, code) => {
          fc.pre(status !== 429);
          return classifyLayersError(status, code) === 'non_retryable';
        },
      ),
    );
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  it('parses delta-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter(['7', '9'], now)).toBe(7000);
  });
  it('parses an HTTP-date relative to now, clamped at 0', () => {
    expect(parseRetryAfter('Mon, 01 Jun 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Sun, 31 May 2026 23:59:00 GMT', now)).toBe(0);
  });
  it('absent or garbage is undefined', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('3s', now)).toBeUndefined();
  });
  it('any non-negative integer round-trips to ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400 }), (s) => parseRetryAfter(String(s), now) === s * 1000),
    );
  });
});

describe('redactSecrets', () => {
  it('scrubs API key secrets, signing secrets and bearer tokens', () => {
    const text =
      'key lp_live_ABCDEFGHJKMNPQRS_abcdefABCDEF0123456789xyzXYZ00 and lp_test_0123456789ABCDEF_s3cr3t ' +
      'whsec_aGVsbG8td29ybGQtdGhpcy1pcy1hLXNpZ25pbmctc2VjcmV0 Authorization: Bearer sk-anything.goes/here=';
    const out = redactSecrets(text);
    expect(out).not.toMatch(/lp_live_|lp_test_|whsec_|sk-anything/);
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('Authorization: [REDACTED]');
  });
  it('leaves ordinary text alone', () => {
    const text =
      'Layers 422 VALIDATION: credits must be a positive integer (req_01J0000000000000000000000) org_abc';
    expect(redactSecrets(text)).toBe(text);
  });
  it('never lets a generated secret through, whatever surrounds it', () => {
    const b64 = fc.string({
      unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
      minLength: 16,
      maxLength: 48,
    });
    fc.assert(
      fc.property(
        fc.string({ maxLength: 8 }),
        b64,
        fc.constantFrom('lp_live_', 'lp_test_', 'whsec_', 'Bearer '),
        fc.string(),
        (pre, body, kind, post) => {
          const secret = kind + body;
          const out = redactSecrets(`${pre}${kind === 'Bearer ' ? ' ' : ''}${secret} ${post}`);
          return !out.includes(secret);
        },
      ),
    );
  });
});

describe('toApplicationFailure', () => {
  const apiErr = (
    status: number | undefined,
    code: string,
    extra: Partial<ConstructorParameters<typeof LayersApiError>[0]> = {},
  ) =>
    new LayersApiError({
      message: `Layers ${status} ${code}: boom (req_1)`,
      status,
      code,
      requestId: 'req_1',
      method: 'POST',
      route: '/v1/organizations/:orgId/credits/allocate',
      ...extra,
    });

  it('retryable → LayersRetryableError, nextRetryDelay from Retry-After', () => {
    const f = toApplicationFailure(apiErr(429, 'RATE_LIMITED', { retryAfterMs: 2000 }));
    expect(f.type).toBe(LayersFailureType.retryable);
    expect(f.type).toBe('LayersRetryableError');
    expect(f.nonRetryable).toBe(false);
    expect(f.nextRetryDelay).toBe(2000);
    expect(f.details?.[0]).toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      requestId: 'req_1',
      retryAfterMs: 2000,
    });
  });
  it('retryable without Retry-After has no nextRetryDelay', () => {
    const f = toApplicationFailure(apiErr(500, 'PLATFORM_ERROR'));
    expect(f.nonRetryable).toBe(false);
    expect(f.nextRetryDelay ?? undefined).toBeUndefined();
  });
  it('blocked → LayersKillSwitchError, non-retryable', () => {
    const f = toApplicationFailure(apiErr(503, 'KILL_SWITCH', { details: { scope: 'org' } }));
    expect(f.type).toBe('LayersKillSwitchError');
    expect(f.nonRetryable).toBe(true);
    expect(f.details?.[0]).toMatchObject({ details: { scope: 'org' } });
  });
  it('insufficient funds → LayersInsufficientFundsError, non-retryable', () => {
    const f = toApplicationFailure(apiErr(402, 'BILLING_EXHAUSTED'));
    expect(f.type).toBe('LayersInsufficientFundsError');
    expect(f.nonRetryable).toBe(true);
  });
  it('non-retryable → LayersNonRetryableError', () => {
    for (const [s, c] of [
      [400, 'IDEMPOTENCY_REQUIRED'],
      [401, 'UNAUTHENTICATED'],
      [403, 'FORBIDDEN_SCOPE'],
      [404, 'NOT_FOUND'],
      [409, 'CONFLICT'],
      [422, 'VALIDATION'],
    ] as const) {
      const f = toApplicationFailure(apiErr(s, c));
      expect(f.type).toBe('LayersNonRetryableError');
      expect(f.nonRetryable).toBe(true);
    }
  });
  it('409 IDEMPOTENCY_CONFLICT: in_flight retryable, body_mismatch not', () => {
    expect(
      toApplicationFailure(apiErr(409, 'IDEMPOTENCY_CONFLICT', { details: { reason: 'in_flight' } }))
        .nonRetryable,
    ).toBe(false);
    expect(
      toApplicationFailure(apiErr(409, 'IDEMPOTENCY_CONFLICT', { details: { reason: 'body_mismatch' } }))
        .nonRetryable,
    ).toBe(true);
  });
  it('contract error → LayersContractError, non-retryable, naming the field', () => {
    const f = toApplicationFailure(
      new LayersContractError({
        message: "field 'apiKey.prefix' bad",
        field: 'apiKey.prefix',
        route: '/v1/x',
        method: 'POST',
        status: 201,
      }),
    );
    expect(f.type).toBe('LayersContractError');
    expect(f.nonRetryable).toBe(true);
    expect(f.details?.[0]).toMatchObject({ field: 'apiKey.prefix', code: 'CONTRACT_VIOLATION' });
  });
  it('anything else → retryable with a scrubbed message and no cause', () => {
    const f = toApplicationFailure(new Error('exploded near Bearer lp_live_ABCDEFGHJKMNPQRS_topsecretvalue'));
    expect(f.type).toBe('LayersRetryableError');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).not.toMatch(/lp_live_|topsecret/);
    expect(f.cause).toBeUndefined();
    expect(JSON.stringify(f.details)).not.toMatch(/lp_live_|topsecret/);
  });
  it('scrubs secrets that reached details', () => {
    const f = toApplicationFailure(
      apiErr(422, 'VALIDATION', {
        details: { secret: 'x', note: 'whsec_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' },
      }),
    );
    expect(JSON.stringify(f.details)).not.toMatch(/whsec_|"x"/);
  });
  it('ApplicationFailures pass through unchanged', () => {
    const orig = toApplicationFailure(apiErr(422, 'VALIDATION'));
    expect(toApplicationFailure(orig)).toBe(orig);
  });
  it('toTemporalFailure turns an abort into a CancelledFailure', () => {
    expect(toTemporalFailure(apiErr(undefined, 'ABORTED'))).toBeInstanceOf(CancelledFailure);
    expect(toTemporalFailure(apiErr(422, 'VALIDATION'))).toBeInstanceOf(ApplicationFailure);
  });
});

describe('schemas', () => {
  const org = {
    id: 'org_d4e5f6a7-8b9c-4d0e-9f2a-3b4c5d6e7f80',
    parentOrganizationId: 'org_2481fa5c-a404-44ed-a561-565392499abc',
    name: 'Acme Coffee',
    status: 'active',
    metadata: { externalId: 'acme-coffee', plan: 'growth' },
    billingEmail: null,
    createdAt: '2026-06-01T14:30:00.000000+00:00',
    updatedAt: '2026-06-01T14:30:00.000000+00:00',
  };
  it('accept the documented examples verbatim', () => {
    expect(Organization.safeParse(org).success).toBe(true);
    expect(
      OrganizationWithSummary.safeParse({
        id: org.id,
        name: 'Acme Coffee',
        status: 'active',
        summary: {
          projectCount: 1,
          balance: 0,
          available: 0,
          creditConfig: {
            monthlyCreditCap: null,
            refillThreshold: null,
            refillAmount: null,
            autoRefillEnabled: false,
          },
        },
      }).success,
    ).toBe(true);
    expect(
      Allocation.safeParse({
        id: 'txn_7f3a2b1c-9d8e-4f0a-b1c2-3d4e5f6a7b8c',
        organizationId: org.id,
        allocated: 5000,
        balance: 5000,
        available: 5000,
        description: null,
        metadata: {},
        created: '2026-06-03T18:14:02.187000+00:00',
      }).success,
    ).toBe(true);
    expect(
      MintedApiKey.safeParse({
        apiKey: {
          id: 'key_c2037bb9-354d-4662-96b7-97a28ad6b6e1',
          organizationId: org.id,
          name: 'acme-integration',
          prefix: 'lp_live_ABCDEFGHJKMNPQRS',
          scopes: ['content:read', 'content:write'],
          status: 'active',
        },
        secret: 'lp_live_ABCDEFGHJKMNPQRS_abcdef',
        warning: 'Store this secret now.',
      }).success,
    ).toBe(true);
  });
  it('keep unknown extra fields', () => {
    const r = Organization.safeParse({ ...org, newField: 1 });
    expect(r.success && (r.data as Record<string, unknown>)['newField']).toBe(1);
  });
  it('reject wrong id prefixes and non-integer credits', () => {
    expect(Organization.safeParse({ ...org, id: 'prj_1' }).success).toBe(false);
    const alloc = {
      id: 'txn_1',
      organizationId: org.id,
      allocated: 1.5,
      balance: 1,
      available: 1,
      created: 'x',
    };
    const r = Allocation.safeParse(alloc);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['allocated']);
  });
});
