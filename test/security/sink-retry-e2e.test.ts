import { LayersClient } from '../../activities/layers';
import {
  FileSecretSink,
  HttpSecretSink,
  type SecretSink,
  type ShownOnceSecret,
} from '../../activities/secret-sinks';
import { childrenOf } from '../helpers/emulator';
import { acmeCoffee } from '../helpers/onboarding-env';
import { recordTestSecrets } from '../helpers/secret-registry';
import { historyText, startSecurityEnv, type SecurityEnv } from './helpers';
import { startSinkReceiver } from './sink-receiver';
import { onboardingWorkflowId } from '../../common/ids';

const HMAC_KEY = 'e2e-sink-signing-key-0123456789abcdef0123';

/** Fails the first `failures` stores of api-key secrets, then delegates; remembers every secret it was handed. */
class FlakySink implements SecretSink {
  calls: ShownOnceSecret[] = [];
  constructor(
    private readonly inner: SecretSink,
    private failures: number,
  ) {}
  async store(secret: ShownOnceSecret): Promise<string> {
    this.calls.push(secret);
    if (secret.kind === 'api-key' && this.failures > 0) {
      this.failures--;
      throw new Error('secret sink: vault unavailable (simulated)');
    }
    return this.inner.store(secret);
  }
}

async function authenticatesAs(env: SecurityEnv, secret: string, orgId: string): Promise<void> {
  const asChild = new LayersClient({ baseUrl: env.emulator.url, apiKey: secret });
  try {
    expect((await asChild.whoami()).organizationId).toBe(orgId);
  } finally {
    await asChild.close();
  }
}

describe('a failed secret delivery replays the mint: the secret is never lost and never minted twice', () => {
  test('a sink that fails the first 2 times: onboarding completes with exactly one key, and the stored secret works', async () => {
    let flaky!: FlakySink;
    const env = await startSecurityEnv({
      sink: (dir) => (flaky = new FlakySink(new FileSecretSink(dir), 2)),
    });
    try {
      const request = acmeCoffee();
      const externalId = request.customer.externalId;
      const result = await env.run(async () => {
        await env.crm.start(request);
        return env.crm.result(externalId);
      });

      const state = await env.control.state();
      const child = childrenOf(state).find((o) => o.metadata?.externalId === externalId)!;
      expect(state.apiKeys.filter((k) => k.organizationId === child.id)).toHaveLength(1);
      // Three mint requests (one per activity attempt), all the same Idempotency-Key: one key, one secret.
      const apiKeyCalls = flaky.calls.filter((c) => c.kind === 'api-key');
      expect(apiKeyCalls).toHaveLength(3);
      expect(new Set(apiKeyCalls.map((c) => c.id))).toEqual(new Set([result.apiKey.id]));
      expect(new Set(apiKeyCalls.map((c) => c.secret)).size).toBe(1);
      await authenticatesAs(env, apiKeyCalls[0]!.secret, result.orgId);

      // The activity failures are in history — with the sink's message, never the secret.
      const history = await env.client.workflow.getHandle(onboardingWorkflowId(externalId)).fetchHistory();
      const text = historyText(history);
      expect(text).not.toContain(apiKeyCalls[0]!.secret);
    } finally {
      await env.close();
    }
  });

  test('the HTTP sink: endpoint down for longer than the in-process retries; the activity retry delivers the same secret once', async () => {
    const receiver = await startSinkReceiver(HMAC_KEY, [503, 503, 503]);
    const env = await startSecurityEnv({
      sink: () =>
        new HttpSecretSink({
          url: receiver.url,
          signingKey: HMAC_KEY,
          attempts: 2,
          backoffMs: { initial: 20, max: 50 },
        }),
    });
    try {
      const request = acmeCoffee();
      request.firehose = undefined; // one shown-once secret only: the api key
      const externalId = request.customer.externalId;
      const result = await env.run(async () => {
        await env.crm.start(request);
        return env.crm.result(externalId);
      });
      recordTestSecrets({ secrets: receiver.received.map((r) => String(r.json.secret)) });

      // Activity attempt 1: 503, 503 (in-process retry), fails. Attempt 2 replays the mint: 503, then 200.
      expect(receiver.received.map((r) => r.status)).toEqual([503, 503, 503, 200]);
      expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
      expect(new Set(receiver.received.map((r) => r.headers['idempotency-key']))).toEqual(
        new Set([`api-key:${result.apiKey.id}`]),
      );
      expect(new Set(receiver.received.map((r) => r.json.secret)).size).toBe(1);
      expect(receiver.stored.size).toBe(1);

      const state = await env.control.state();
      expect(state.apiKeys.filter((k) => k.organizationId === result.orgId)).toHaveLength(1);
      await authenticatesAs(env, receiver.stored.get(`api-key:${result.apiKey.id}`)!, result.orgId);
    } finally {
      await env.close();
      await receiver.close();
    }
  });
});
