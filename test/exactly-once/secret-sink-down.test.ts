import { existsSync } from 'node:fs';
import path from 'node:path';
import type { SecretSink } from '../../activities/secret-sink';
import { FileSecretSink } from '../../activities/secret-sink';
import { SECRET_SINK_ATTEMPTS } from '../../activities/onboarding';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { createTestWorker } from '../helpers/temporal';
import { closed, customerInLayers } from './helpers';
import { customerWorkflowId } from '../../common/ids';

// Issue 11, item 10: a sink that keeps failing must not retry for ever, and a minted secret that never
// reached it must not stay behind as a live key nobody holds the secret of.
describe('secret sink down', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 1_000_000 } });
  });
  afterAll(async () => env?.close());

  test('mint fails clearly after a bounded number of attempts, the unstored key is revoked, and the next start mints afresh', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    let refused = 0;
    const brokenSink: SecretSink = {
      store: async () => {
        refused++;
        throw new Error('vault unreachable');
      },
    };
    const broken = await createTestWorker(env.temporal, env.taskQueue, {
      layers: env.layers,
      secretSink: brokenSink,
    });
    await broken.runUntil(async () => {
      await env.crm.start(request, { timing: { retryMaxIntervalMs: 1000 } });
      const err = (await env.crm.result(externalId).catch((e: unknown) => e)) as Error;
      expect(String((err.cause as Error | undefined)?.message)).toMatch(
        /secret sink refused the new key's secret .* was revoked/,
      );
      await closed(env, customerWorkflowId(externalId));
    });
    expect(refused).toBe(SECRET_SINK_ATTEMPTS);
    const afterFailure = customerInLayers(await env.control.state(), externalId);
    expect(afterFailure.keys).toHaveLength(1);
    expect(afterFailure.liveKeys).toHaveLength(0);
    expect(afterFailure.allocations).toHaveLength(0);

    await env.run(async () => {
      await env.crm.start(request, { timing: { retryMaxIntervalMs: 1000 } });
      const result = await env.crm.result(externalId);
      const mine = customerInLayers(await env.control.state(), externalId);
      expect(mine.orgs).toHaveLength(1);
      expect(mine.liveKeys.map((k) => k.id)).toEqual([result.apiKey.id]);
      expect(mine.allocations).toHaveLength(1);
      expect(existsSync(path.join(env.secretsDir, `api-key-${result.apiKey.id}.json`))).toBe(true);
    });
    void FileSecretSink;
  });
});
