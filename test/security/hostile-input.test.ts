import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { WorkflowNotFoundError } from '@temporalio/client';
import { InvalidInputError, OnboardingClient } from '../../client';
import {
  START_OPTIONS,
  UsageError,
  onboardingRequestFromFlags,
  parseCommandArgs,
} from '../../client/cli/args';
import { describeCliError, run } from '../../client/cli/main';
import {
  KNOWN_SCOPES,
  MAX_CREDITS,
  WEBHOOK_EVENT_TYPES,
  parseOnboardingInput,
  type OnboardingRequest,
} from '../../common/onboarding-input';
import { MAX_SCHEDULE_AHEAD_MS, parseLifecycleRequest } from '../../common/lifecycle-input';
import { connectTestTemporal, uniqueTaskQueue, type TemporalTestContext } from '../helpers/temporal';
import { onboardingWorkflowId } from '../../common/ids';

/* eslint-disable @typescript-eslint/no-explicit-any */

let seq = 0;
/** A valid request; every hostile case below breaks exactly one rule of it. */
function baseRequest(): Record<string, any> {
  return {
    customer: {
      externalId: `hostile-${Date.now().toString(36)}-${(seq++).toString(36)}`,
      name: 'Acme Coffee',
      metadata: { plan: 'growth' },
      billingEmail: 'billing@acme-coffee.example',
    },
    apiKey: { name: 'acme-integration', scopes: ['content:read'] },
    credits: 5000,
    creditConfig: { monthlyCreditCap: 5000, refillThreshold: 1000, refillAmount: 2000 },
    firehose: { url: 'https://crm.example.com/hooks', events: ['content.generated'] },
    project: { name: 'Acme', timezone: 'UTC' },
  };
}

interface Hostile {
  /** The field path the error must name (prefix of `field: message`). */
  field: string;
  mutate: (r: Record<string, any>) => void;
}

const notAnInteger = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.constantFrom('5000', '', null, true, [], {}, '1e3'),
);
const badCredits = fc.oneof(
  notAnInteger,
  fc.integer({ min: -1_000_000_000_000, max: 0 }),
  fc.integer({ min: MAX_CREDITS + 1, max: Number.MAX_SAFE_INTEGER }),
  fc.constant(1e300),
);
const unknownScope = fc
  .string({ minLength: 0, maxLength: 30 })
  .filter((s) => !(KNOWN_SCOPES as readonly string[]).includes(s));
const unknownEvent = fc
  .string({ maxLength: 30 })
  .filter((s) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(s));
const blank = fc.constantFrom('', ' ', '\t', '\n  ');
/** At least `min` characters even after trimming. */
const longString = (min: number) => fc.string({ maxLength: 50 }).map((s) => `x${s}x`.padEnd(min, 'x'));
const malformedExternalId = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 1, maxLength: 120 }).filter((s) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(s)),
  fc.constantFrom('-leading', '../etc/passwd', 'a b', 'a/b', 'ünïcode', 'a'.repeat(101), 'x\n', 'ok;drop'),
  fc.constantFrom(42, null, {}, []),
);
const nonHttpsUrl = fc.oneof(
  fc
    .webUrl({ validSchemes: ['http'] })
    .filter((u) => !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(u)),
  fc.constantFrom(
    'ftp://crm.example/x',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'crm.example/hooks',
    '',
    'https://',
    `https://a.example/${'x'.repeat(2100)}`,
  ),
  fc.string({ maxLength: 40 }).filter((s) => !s.startsWith('https://')),
);
const fakeSecret = fc.constantFrom(
  'lp_live_ABCDEFGHJKMNPQRS_abcdefghijklmnopqrstuvwxyz012345',
  'lp_test_0123456789ABCDEF_secretsecretsecret',
  `whsec_${'A'.repeat(43)}`,
);

const hostileCases: fc.Arbitrary<Hostile> = fc.oneof(
  badCredits.map((v): Hostile => ({ field: 'credits', mutate: (r) => void (r.credits = v) })),
  fc.constantFrom('credits', 'apiKey', 'customer').map((k): Hostile => ({
    field: k,
    mutate: (r) => void (k === 'credits' ? delete r.credits : (r[k] = 'nope')),
  })),
  badCredits
    .filter((v) => !(typeof v === 'number' && v === 0))
    .map((v): Hostile => ({
      field: 'creditConfig.monthlyCreditCap',
      mutate: (r) =>
        void (r.creditConfig.monthlyCreditCap =
          typeof v === 'number' && v > 0 && Number.isInteger(v) && v <= MAX_CREDITS ? -v : v),
    })),
  fc.constantFrom('refillThreshold', 'refillAmount').map((side): Hostile => ({
    field: 'creditConfig.',
    mutate: (r) => void delete r.creditConfig[side],
  })),
  fc
    .constantFrom([], ['org:admin'], ['content:read', 'org:admin'], ['content:read', 'content:read'])
    .map((scopes): Hostile => ({
      field: 'apiKey.scopes',
      mutate: (r) => void (r.apiKey.scopes = scopes),
    })),
  unknownScope.map((s): Hostile => ({
    field: 'apiKey.scopes',
    mutate: (r) => void (r.apiKey.scopes = ['content:read', s]),
  })),
  blank.map((name): Hostile => ({ field: 'customer.name', mutate: (r) => void (r.customer.name = name) })),
  longString(129).map((name): Hostile => ({
    field: 'customer.name',
    mutate: (r) => void (r.customer.name = name),
  })),
  longString(121).map((name): Hostile => ({
    field: 'apiKey.name',
    mutate: (r) => void (r.apiKey.name = name),
  })),
  longString(129).map((name): Hostile => ({
    field: 'project.name',
    mutate: (r) => void (r.project.name = name),
  })),
  fc.integer({ min: 49, max: 80 }).map((n): Hostile => ({
    field: 'customer.metadata',
    mutate: (r) =>
      void (r.customer.metadata = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))),
  })),
  longString(41).map((key): Hostile => ({
    field: 'customer.metadata',
    mutate: (r) => void (r.customer.metadata = { [key]: 'v' }),
  })),
  longString(501).map((value): Hostile => ({
    field: 'customer.metadata',
    mutate: (r) => void (r.customer.metadata = { note: value }),
  })),
  fc.constantFrom('externalId', 'onboardingWorkflowId').map((key): Hostile => ({
    field: 'customer.metadata',
    mutate: (r) => void (r.customer.metadata = { [key]: 'x' }),
  })),
  fc.constantFrom(1, null, true, { nested: 'x' }).map((value): Hostile => ({
    field: 'customer.metadata',
    mutate: (r) => void (r.customer.metadata = { k: value }),
  })),
  nonHttpsUrl.map((url): Hostile => ({ field: 'firehose.url', mutate: (r) => void (r.firehose.url = url) })),
  unknownEvent.map((e): Hostile => ({
    field: 'firehose.events',
    mutate: (r) => void (r.firehose.events = ['content.generated', e]),
  })),
  fc.constantFrom([], ['test.ping', 'test.ping']).map((events): Hostile => ({
    field: 'firehose.events',
    mutate: (r) => void (r.firehose.events = events),
  })),
  malformedExternalId.map((id): Hostile => ({
    field: 'customer.externalId',
    mutate: (r) => void (r.customer.externalId = id),
  })),
  fc
    .constantFrom('not-an-email', '@acme.example', 'a@', 'a b@c.d', `${'x'.repeat(250)}@acme.example`)
    .map((email): Hostile => ({
      field: 'customer.billingEmail',
      mutate: (r) => void (r.customer.billingEmail = email),
    })),
  fc
    .constantFrom('Mars/Olympus_Mons', '', 'UTC+25', 'America/Nowhere')
    .map((tz): Hostile => ({ field: 'project.timezone', mutate: (r) => void (r.project.timezone = tz) })),
  fc
    .constantFrom('parentKey', 'apiKeySecret', 'extra')
    .map((key): Hostile => ({ field: '(input)', mutate: (r) => void (r[key] = 'x') })),
  fakeSecret.map((s): Hostile => ({
    field: 'customer.metadata.note',
    mutate: (r) => void (r.customer.metadata = { note: s }),
  })),
  fakeSecret.map((s): Hostile => ({
    field: 'customer.name',
    mutate: (r) => void (r.customer.name = `Acme ${s}`),
  })),
  fakeSecret.map((s): Hostile => ({ field: 'apiKey.name', mutate: (r) => void (r.apiKey.name = s) })),
);

/** `field: rule` — a dotted path (odd keys quoted) then the rule. */
const FIELD_AND_RULE =
  /^(\(input\)|(?:[\w-]+|"(?:[^"\\]|\\.)*")(?:\.(?:[\w-]+|\(key\)|"(?:[^"\\]|\\.)*"))*): \S/;

function expectNamesField(err: unknown, field: string): void {
  expect(err).toBeInstanceOf(InvalidInputError);
  const problems = (err as InvalidInputError).problems;
  expect(problems.length).toBeGreaterThan(0);
  for (const p of problems) expect(p).toMatch(FIELD_AND_RULE);
  if (!problems.some((p) => p.startsWith(field)))
    throw new Error(`expected a problem naming ${field}, got ${JSON.stringify(problems)}`);
}

describe('hostile input to the library: OnboardingClient.start refuses it, naming the field, and starts nothing', () => {
  let temporal: TemporalTestContext;
  let crm: OnboardingClient;
  const taskQueue = uniqueTaskQueue('hostile');
  const attempted: string[] = [];

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    crm = new OnboardingClient(temporal.client, taskQueue);
  });
  afterAll(async () => temporal?.close());

  test('property: one broken rule → InvalidInputError naming the field and the rule', async () => {
    await fc.assert(
      fc.asyncProperty(hostileCases, async (hostile) => {
        const request = baseRequest();
        hostile.mutate(request);
        if (typeof request.customer?.externalId === 'string') attempted.push(request.customer.externalId);
        const err = await crm.start(request as OnboardingRequest).then(
          () => new Error('started a workflow'),
          (e: unknown) => e,
        );
        expectNamesField(err, hostile.field);
      }),
      { numRuns: 400 },
    );
  });

  test('property: anything at all (not just near-valid requests) is refused without a crash', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.anything(), fc.record({ customer: fc.anything(), credits: fc.anything() })),
        async (value) => {
          const err = await crm.start(value as OnboardingRequest).then(
            () => new Error('started a workflow'),
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(InvalidInputError);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('no workflow was started on the task queue, for any of those ids', async () => {
    expect((await temporal.client.workflow.count(`TaskQueue = "${taskQueue}"`)).count).toBe(0);
    for (const id of attempted.slice(0, 50)) {
      await expect(
        temporal.client.workflow.getHandle(onboardingWorkflowId(id)).describe(),
      ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    }
  });
});

const FLAG_NAMES = Object.keys(START_OPTIONS);
const hostileValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '-5',
    '0',
    '1.5',
    '1e309',
    'NaN',
    '0x10',
    '',
    ' ',
    '--credits',
    '-',
    '=',
    'a=b',
    'org:admin',
    'http://crm.example',
    '1000000001',
  ),
  fc.integer().map(String),
  fc.double().map(String),
);
const argv = fc.array(
  fc.oneof(
    fc.tuple(fc.constantFrom(...FLAG_NAMES), hostileValue).map(([f, v]) => [`--${f}`, v]),
    fc.constantFrom(...FLAG_NAMES).map((f) => [`--${f}`]),
    hostileValue.map((v) => [v]),
    fc.string({ maxLength: 12 }).map((s) => [`--${s}`]),
  ),
  { maxLength: 10 },
);

describe('hostile input to the CLI: only UsageError or InvalidInputError, never a crash', () => {
  test('property: parseCommandArgs + onboardingRequestFromFlags + parseOnboardingInput', () => {
    fc.assert(
      fc.property(argv, (groups) => {
        try {
          const { values } = parseCommandArgs(groups.flat(), START_OPTIONS);
          const parsed = parseOnboardingInput(onboardingRequestFromFlags(values));
          if (!parsed.ok) for (const e of parsed.errors) expect(e).toMatch(FIELD_AND_RULE);
        } catch (err) {
          if (!(err instanceof UsageError || err instanceof InvalidInputError)) throw err;
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('property: a broken rule through the flags is refused by run() before any connection, exit code 2', async () => {
    const flagCases = fc.oneof(
      // (`--credits -Infinity` reads as an unknown flag: a UsageError, covered by the property above.)
      badCredits
        .map(String)
        .filter(
          (v) =>
            !/^-\D/.test(v) && !(Number.isInteger(Number(v)) && Number(v) > 0 && Number(v) <= MAX_CREDITS),
        )
        .map((v) => ({ field: 'credits', args: ['--credits', v] })),
      fc
        .constantFrom('refill-threshold', 'refill-amount')
        .map((f) => ({ field: 'creditConfig.', args: [`--${f}`, '100'] })),
      fc
        .constantFrom('org:admin', 'content:read,org:admin', 'admin', 'content:*')
        .map((s) => ({ field: 'apiKey.scopes', args: ['--scopes', s] })),
      blank.map((n) => ({ field: 'customer.name', args: ['--name', n] })),
      longString(129).map((n) => ({ field: 'customer.name', args: ['--name', n] })),
      longString(501).map((v) => ({ field: 'customer.metadata', args: ['--metadata', `note=${v}`] })),
      fc.constantFrom('=x', 'novalue').map((m) => ({ field: 'customer.metadata', args: ['--metadata', m] })),
      nonHttpsUrl
        .filter((u) => u.length > 0 && !u.startsWith('-'))
        .map((u) => ({ field: 'firehose.url', args: ['--webhook-url', u] })),
      unknownEvent
        .filter((e) => e.trim().length > 0 && !e.includes(',') && !e.startsWith('-'))
        .map((e) => ({
          field: 'firehose.events',
          args: ['--webhook-url', 'https://crm.example/h', '--events', e],
        })),
      malformedExternalId
        .filter((v): v is string => typeof v === 'string' && v.length > 0 && !v.startsWith('-'))
        .map((id) => ({ field: 'customer.externalId', args: ['--external-id', id] })),
    );
    const previous = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1'; // a connection attempt would fail differently
    try {
      await fc.assert(
        fc.asyncProperty(flagCases, async ({ field, args }) => {
          const base = [
            'start',
            '--external-id',
            'acme-coffee',
            '--name',
            'Acme Coffee',
            '--credits',
            '5000',
          ];
          const err = await run([...base, ...args]).then(
            () => new Error('run() resolved'),
            (e: unknown) => e,
          );
          expectNamesField(err, field);
          const { message, code } = describeCliError(err);
          expect(code).toBe(2);
          expect(message).toMatch(/^error: invalid input:/);
        }),
        { numRuns: 300 },
      );
    } finally {
      if (previous === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = previous;
    }
  });

  test('property: hostile --input files (any JSON, or not JSON at all) are refused, never a crash', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hostile-input-'));
    let n = 0;
    const contents = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      hostileCases.map((h) => {
        const r = baseRequest();
        h.mutate(r);
        return JSON.stringify(r);
      }),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(contents, async (text) => {
        const file = path.join(dir, `input-${n++}.json`);
        writeFileSync(file, text);
        try {
          const parsed = parseOnboardingInput(onboardingRequestFromFlags({ input: file }));
          if (!parsed.ok) for (const e of parsed.errors) expect(e).toMatch(FIELD_AND_RULE);
        } catch (err) {
          if (!(err instanceof UsageError || err instanceof InvalidInputError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
    expect(() => onboardingRequestFromFlags({ input: path.join(dir, 'missing.json') })).toThrow(UsageError);
  });
});

describe('hostile lifecycle signal payloads (workflows/lifecycle-input.ts)', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  const future = fc
    .integer({ min: 1_000, max: MAX_SCHEDULE_AHEAD_MS - 1 })
    .map((ms) => new Date(now + ms).toISOString());
  const past = fc
    .integer({ min: 0, max: 100 * 365 * 24 * 3600 * 1000 })
    .map((ms) => new Date(now - ms).toISOString());
  const reason = fc.string({ minLength: 1, maxLength: 500 }).filter((s) => s.trim().length > 0);
  // eslint-disable-next-line no-control-regex
  const eventId = fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s));

  test('property: well-formed pause/resume/churn requests are accepted', () => {
    fc.assert(
      fc.property(
        reason,
        eventId,
        fc.option(future, { nil: undefined }),
        fc.option(fc.boolean(), { nil: undefined }),
        (r, e, when, drain) => {
          expect(
            parseLifecycleRequest('pause', { reason: r, eventId: e, ...(when ? { until: when } : {}) }, now)
              .ok,
          ).toBe(true);
          expect(parseLifecycleRequest('resume', { reason: r, eventId: e }, now).ok).toBe(true);
          const churn = parseLifecycleRequest(
            'churn',
            {
              reason: r,
              eventId: e,
              ...(when ? { effectiveAt: when } : {}),
              ...(drain === undefined ? {} : { drain }),
            },
            now,
          );
          expect(churn).toEqual({ ok: true, value: expect.objectContaining({ eventId: e }) });
        },
      ),
    );
  });

  test('property: a date in the past (or now) for until/effectiveAt is refused, naming the field', () => {
    fc.assert(
      fc.property(past, (when) => {
        expect(parseLifecycleRequest('pause', { reason: 'r', eventId: 'e', until: when }, now)).toEqual({
          ok: false,
          errors: [`until: must be in the future (got ${when})`],
        });
        expect(parseLifecycleRequest('churn', { reason: 'r', eventId: 'e', effectiveAt: when }, now)).toEqual(
          {
            ok: false,
            errors: [`effectiveAt: must be in the future (got ${when})`],
          },
        );
      }),
    );
    const far = new Date(now + MAX_SCHEDULE_AHEAD_MS + 60_000).toISOString();
    expect(parseLifecycleRequest('pause', { reason: 'r', eventId: 'e', until: far }, now)).toEqual({
      ok: false,
      errors: [`until: must be at most 5 years ahead (got ${far})`],
    });
  });

  test('property: every broken rule names its field', () => {
    const broken = fc.oneof(
      fc.constantFrom('', ' ', '\n').map((v) => ({ field: 'reason', patch: { reason: v } })),
      longString(501).map((v) => ({ field: 'reason', patch: { reason: v } })),
      fc.constantFrom(undefined, 42, null).map((v) => ({ field: 'reason', patch: { reason: v } })),
      fc
        .constantFrom('', 'a\u0000b', 'line\nbreak', 'x'.repeat(201), undefined, 7)
        .map((v) => ({ field: 'eventId', patch: { eventId: v } })),
      fc
        .oneof(
          fc.string({ maxLength: 30 }),
          fc.constantFrom(
            '2026-13-01T00:00:00Z',
            '2026-07-01',
            '2026-07-01T00:00:00',
            'tomorrow',
            '1767225600000',
          ),
          fc.integer(),
        )
        .map((v) => ({
          field: 'until',
          patch: { until: v },
        })),
      fc.constantFrom('pause', 'resume').map(() => ({ field: '(input)', patch: { sneaky: true } })),
    );
    fc.assert(
      fc.property(broken, ({ field, patch }) => {
        const result = parseLifecycleRequest(
          'pause',
          { reason: 'maintenance', eventId: 'evt-1', ...patch },
          now,
        );
        expect(result.ok).toBe(false);
        if (!result.ok && !result.errors.some((e) => e.startsWith(`${field}: `)))
          throw new Error(`expected ${field}: got ${JSON.stringify(result.errors)}`);
      }),
    );
    expect(parseLifecycleRequest('churn', { reason: 'r', eventId: 'e', drain: 'yes' }, now)).toEqual({
      ok: false,
      errors: ['drain: must be true or false'],
    });
  });

  test('property: any value at all, for any kind, is answered without throwing', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('pause', 'resume', 'churn', 'bogus'),
        fc.anything(),
        fc.integer(),
        (kind, value, nowMs) => {
          const result = parseLifecycleRequest(kind as 'pause', value, nowMs);
          if (!result.ok) for (const e of result.errors) expect(e).toMatch(/^[\w.()]+: \S/);
        },
      ),
      { numRuns: 500 },
    );
  });
});
