// Issue 14 item 2 (URL rules): every forbidden form of a customer webhook URL is refused naming the field —
// by the static rules (client, workflow), by the activity after resolving the name, and before Layers is asked.
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createFirehoseActivities,
  checkWebhookUrlResolved,
  type HostResolver,
} from '../../activities/firehose';
import { LayersClient } from '../../activities/layers';
import { FileSecretSink } from '../../activities/secret-sink';
import { InvalidInputError, OnboardingClient } from '../../client';
import { checkWebhookUrl, forbiddenAddressReason } from '../../common/webhook-url';
import { emulatorControl, startEmulator, type RunningEmulator } from '../helpers/emulator';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FORBIDDEN = [
  'https://169.254.169.254/latest/meta-data/',
  'https://10.0.0.5/hooks',
  'https://172.16.3.4/',
  'https://192.168.1.10/',
  'https://100.64.0.1/',
  'https://localhost/',
  'https://localhost./',
  'https://api.localhost/',
  'https://127.0.0.1/',
  'https://0x7f.1/',
  'https://2130706433/',
  'https://user:pass@hooks.example.com/',
  'https://user@hooks.example.com/',
  'http://example.com/hooks',
  'https://[::1]/',
  'https://[fd00::1]/',
  'https://[fc12:3456::1]/',
  'https://[fe80::1]/',
  'https://[::ffff:127.0.0.1]/',
  'https://[::ffff:169.254.169.254]/',
  'https://[::]/',
  'https://0.0.0.0/',
  'https://printer.local/',
  'https://metadata.google.internal/',
  'https://intranet/',
  'ftp://hooks.example.com/',
];

/** A resolver that answers from a table (the sandbox has no DNS); anything else: ENOTFOUND. */
const table =
  (answers: Record<string, string[]>): HostResolver =>
  async (host) => {
    const list = answers[host];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

const resolver = table({
  'hooks.customer-a.example': ['203.0.113.10'],
  'rebind.customer-b.example': ['127.0.0.1'],
  'half.customer-c.example': ['203.0.113.11', '10.9.8.7'],
  'v6.customer-d.example': ['fd00::7'],
  'meta.customer-e.example': ['169.254.169.254'],
});

describe('static webhook URL rules (common/webhook-url.ts)', () => {
  test.each(FORBIDDEN)('%s is refused naming firehose.url', (url) => {
    expect(checkWebhookUrl(url, 'firehose.url')).toMatch(/^firehose\.url: /);
  });

  test('public https URLs pass; http passes only in local mode', () => {
    expect(checkWebhookUrl('https://hooks.customer-a.example/layers', 'firehose.url')).toBeUndefined();
    expect(checkWebhookUrl('https://203.0.113.10/layers', 'firehose.url')).toBeUndefined();
    expect(checkWebhookUrl('https://[2001:db8::1]/layers', 'firehose.url')).toBeUndefined();
    expect(
      checkWebhookUrl('http://hooks.customer-a.example/', 'firehose.url', { localMode: true }),
    ).toBeUndefined();
    expect(checkWebhookUrl('http://127.0.0.1:9000/', 'firehose.url', { localMode: true })).toMatch(
      /loopback/,
    );
  });

  test('addresses from DNS answers are classified', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.1.1',
      '169.254.169.254',
      'fd00::1',
      '::1',
      'fe80::1',
      '::ffff:10.0.0.1',
    ])
      expect(forbiddenAddressReason(a)).toBeDefined();
    for (const a of ['203.0.113.10', '8.8.8.8', '2001:db8::1', '::ffff:8.8.8.8'])
      expect(forbiddenAddressReason(a)).toBeUndefined();
  });
});

describe('resolution in the activity', () => {
  const refusedWith = async (url: string, pattern: RegExp, policy = {}) => {
    const err = await checkWebhookUrlResolved(url, 'firehose.url', policy, resolver).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ nonRetryable: true, type: 'WebhookUrlRefused' });
    expect((err as Error).message).toMatch(/^firehose\.url: /);
    expect((err as Error).message).toMatch(pattern);
  };

  test('a name resolving to 127.0.0.1, to a private, unique-local or link-local address is refused', async () => {
    await refusedWith('https://rebind.customer-b.example/h', /resolves to 127\.0\.0\.1/);
    await refusedWith('https://half.customer-c.example/h', /resolves to 10\.9\.8\.7/);
    await refusedWith('https://v6.customer-d.example/h', /resolves to fd00::7/);
    await refusedWith('https://meta.customer-e.example/h', /resolves to 169\.254\.169\.254/);
  });

  test('a name that does not resolve is refused, except in local mode (the emulator)', async () => {
    await refusedWith('https://nowhere.customer-f.example/h', /does not resolve/);
    await expect(
      checkWebhookUrlResolved(
        'https://nowhere.customer-f.example/h',
        'firehose.url',
        { localMode: true },
        resolver,
      ),
    ).resolves.toBeUndefined();
    await expect(
      checkWebhookUrlResolved('https://hooks.customer-a.example/h', 'firehose.url', {}, resolver),
    ).resolves.toBeUndefined();
  });
});

describe('nothing reaches Layers for a forbidden URL', () => {
  let emulator: RunningEmulator;
  let layers: LayersClient;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, quiet: true });
    layers = new LayersClient({ baseUrl: emulator.url, apiKey: emulator.parentKey });
  });
  afterAll(async () => {
    await layers?.close();
    await emulator?.close();
  });

  test('ensureCustomerWebhook refuses every form before any Layers call', async () => {
    const child = await layers.createOrganization({
      name: 'URL rules',
      metadata: { externalId: 'url-rules' },
    });
    const activities = createFirehoseActivities({
      layers,
      secretSink: new FileSecretSink(mkdtempSync(path.join(os.tmpdir(), 'url-rules-'))),
      webhookUrlPolicy: {},
      resolveHost: resolver,
    });
    const env = new MockActivityEnvironment();
    const before = (await emulatorControl(emulator.url).state()).requests.total;
    for (const url of [
      ...FORBIDDEN,
      'https://rebind.customer-b.example/h',
      'https://meta.customer-e.example/h',
    ]) {
      const err = await env
        .run(activities.ensureCustomerWebhook, {
          orgId: child.id,
          externalId: 'url-rules',
          url,
          events: ['content.generated'],
          idempotencyKey: `k-${url}`,
        })
        .catch((e: unknown) => e);
      expect({ url, message: (err as Error).message }).toEqual({
        url,
        message: expect.stringMatching(/^firehose\.url: /),
      });
      expect(err).toMatchObject({ nonRetryable: true });
    }
    const state = await emulatorControl(emulator.url).state();
    expect(state.requests.total).toBe(before);
    expect(state.webhookEndpoints).toEqual([]);
  });
});

describe('the client refuses early, naming the field', () => {
  const crm = new OnboardingClient(
    new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
    'unused',
  );
  test.each(FORBIDDEN.filter((u) => u.startsWith('http')))('%s', async (url) => {
    const err = await crm
      .start({
        customer: { externalId: 'url-rules', name: 'Acme' },
        apiKey: { scopes: ['content:read'] },
        credits: 1,
        firehose: { url, events: ['content.generated'] },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/firehose\.url: /);
  });
});
