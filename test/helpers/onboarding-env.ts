import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LayersClient } from '../../activities/layers';
import type { ActivityDeps } from '../../activities';
import { FileSecretSink } from '../../activities/secret-sink';
import { OnboardingClient } from '../../client';
import type { OnboardingRequest } from '../../common/onboarding-input';
import { emulatorControl, startEmulator, type RunningEmulator } from './emulator';
import { recordTestSecrets } from './secret-registry';
import type { StartWorkerConfig, WorkerGroup } from '../../worker/worker';
import { connectTestTemporal, createTestWorker, uniqueTaskQueue, type TemporalTestContext } from './temporal';

/** Everything an end-to-end test needs: dev server, emulator, worker on its own task queue, CRM client. */
export interface OnboardingTestEnv {
  temporal: TemporalTestContext;
  emulator: RunningEmulator;
  control: ReturnType<typeof emulatorControl>;
  layers: LayersClient;
  secretsDir: string;
  taskQueue: string;
  /** A fresh worker for one test case (a worker runs once): `run(() => …)` is `worker.runUntil`. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** `extra` on top of the suite's own settings (e.g. another workflow bundle). */
  newWorker(extra?: Partial<StartWorkerConfig>): Promise<WorkerGroup>;
  crm: OnboardingClient;
  close(): Promise<void>;
}

export async function startOnboardingTestEnv(
  options: {
    emulator?: Parameters<typeof startEmulator>[0];
    tuning?: Parameters<typeof createTestWorker>[3];
    /** Extra activity dependencies (e.g. a host resolver for customer webhook URLs). */
    deps?: Partial<ActivityDeps>;
  } = {},
): Promise<OnboardingTestEnv> {
  const temporal = await connectTestTemporal();
  const emulator = await startEmulator({ port: 0, quiet: true, ...options.emulator });
  const layers = new LayersClient({ baseUrl: emulator.url, apiKey: emulator.parentKey });
  const secretsDir = mkdtempSync(path.join(os.tmpdir(), 'layers-secrets-'));
  const taskQueue = uniqueTaskQueue('onboarding');
  recordTestSecrets({ parentKeys: [emulator.parentKey], sinkDirs: [secretsDir] });
  const deps: ActivityDeps = {
    layers,
    secretSink: new FileSecretSink(secretsDir),
    firehose: PARTNER_FIREHOSE,
    ...options.deps,
  };
  const newWorker = (extra: Partial<StartWorkerConfig> = {}) =>
    createTestWorker(temporal, taskQueue, deps, { ...options.tuning, ...extra });
  return {
    temporal,
    emulator,
    control: emulatorControl(emulator.url),
    layers,
    secretsDir,
    taskQueue,
    newWorker,
    async run(fn) {
      return (await newWorker()).runUntil(fn);
    },
    crm: new OnboardingClient(temporal.client, taskQueue),
    async close() {
      await layers.close();
      await emulator.close();
      await temporal.close();
    },
  };
}

/** The guide's firehose is the partner's own receiver: worker configuration (LAYERS_FIREHOSE_URL/_EVENTS), not customer input. */
export const PARTNER_FIREHOSE = {
  url: 'https://quinns-crm.example.com/layers/webhooks',
  events: ['content.generated', 'post.published'],
};

let counter = 0;
/** A unique externalId per test so runs never collide on the shared dev server. */
export function uniqueExternalId(prefix = 'cust'): string {
  return `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

/** The guide's Acme Coffee request, with a unique externalId. */
export function acmeCoffee(externalId = uniqueExternalId('acme-coffee')): OnboardingRequest {
  return {
    customer: {
      externalId,
      name: 'Acme Coffee',
      metadata: { plan: 'growth' },
      billingEmail: 'billing@acme-coffee.example',
    },
    apiKey: { name: 'acme-integration', scopes: ['content:read', 'content:write'] },
    credits: 5000,
    creditConfig: { monthlyCreditCap: 5000, refillThreshold: 1000, refillAmount: 2000 },
    project: { name: 'Acme Coffee', timezone: 'America/Los_Angeles' },
  };
}

export const fastTiming = { killSwitchBackoffMs: { initial: 200, max: 1_000 }, fundsRecheckMs: 1_000 };
