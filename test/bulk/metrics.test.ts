import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { LayersClient } from '../../activities/layers';
import { FileSecretSink } from '../../activities/secret-sink';
import { freePort } from '../../scripts/dev-server';
import { LayersCallMetrics, parsePrometheusText, prometheusExporter, sumMetric } from '../../worker/metrics';
import type { WorkerGroup } from '../../worker/worker';
import { createTestWorker, eventually } from '../helpers/temporal';
import { startOnboardingTestEnv, uniqueExternalId, type OnboardingTestEnv } from '../helpers/onboarding-env';
import type { OnboardingRequest } from '../../common/onboarding-input';

const request = (externalId: string): OnboardingRequest => ({
  customer: { externalId, name: externalId },
  credits: 5_000,
});

describe('worker metrics: one Prometheus endpoint with Temporal, onboarding and Layers metrics', () => {
  let env: OnboardingTestEnv;
  let port: number;
  let layers: LayersClient;
  let worker: WorkerGroup;

  beforeAll(async () => {
    port = await freePort();
    // Before anything else touches the Runtime (connectTestTemporal would install a quiet one).
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { metrics: prometheusExporter(port, '127.0.0.1') },
    });
    env = await startOnboardingTestEnv({ emulator: { parentCredits: 6_000 } });
    layers = new LayersClient({
      baseUrl: env.emulator.url,
      apiKey: env.emulator.parentKey,
      onCall: new LayersCallMetrics().onCall,
    });
    // No pre-built bundle: createWorker bundles the workflows with the metrics interceptor.
    worker = await createTestWorker(
      env.temporal,
      env.taskQueue,
      { layers, secretSink: new FileSecretSink(mkdtempSync(path.join(os.tmpdir(), 'layers-metrics-'))) },
      { workflowBundle: undefined },
    );
  });
  afterAll(async () => {
    await layers?.close();
    await env?.close();
  });

  const scrape = async () =>
    parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());

  test('onboardings started / completed / failed, time waiting for funds, Layers calls by route and status, 429s', async () => {
    const [funded, waitsForFunds, cancelled] = [
      uniqueExternalId('m-a'),
      uniqueExternalId('m-b'),
      uniqueExternalId('m-c'),
    ];
    // 429s on every other key mint: retried after Retry-After, counted as rate limited.
    await env.control.faults({
      seed: 7,
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/api-keys', rateLimited: 0.5 }],
    });
    const noRecheck = { timing: { fundsRecheckMs: 600_000 } };

    await worker.runUntil(async () => {
      await env.crm.start(request(funded));
      await env.crm.result(funded); // parent wallet 6,000 → 1,000
      await env.crm.start(request(waitsForFunds), noRecheck);
      await env.crm.start(request(cancelled), noRecheck);
      for (const id of [waitsForFunds, cancelled]) {
        await eventually(async () => (await env.crm.status(id)).state === 'waiting', { timeoutMs: 60_000 });
      }
      await env.control.topUp(5_000);
      await env.crm.parentFunded(waitsForFunds);
      await env.crm.result(waitsForFunds);
      await env.crm.handle(cancelled).cancel();
      await expect(env.crm.result(cancelled)).rejects.toThrow();

      const labels = { taskQueue: env.taskQueue };
      const m = await eventually(
        async () => {
          const s = await scrape();
          return sumMetric(s, 'layers_onboardings_failed_total', labels) >= 1 ? s : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 250 },
      );
      expect(sumMetric(m, 'layers_onboardings_started_total', labels)).toBe(3);
      expect(sumMetric(m, 'layers_onboardings_completed_total', labels)).toBe(2);
      expect(sumMetric(m, 'layers_onboardings_failed_total', labels)).toBe(1);
      expect(sumMetric(m, 'layers_onboarding_funds_wait_count', { ...labels, outcome: 'funded' })).toBe(1);
      expect(sumMetric(m, 'layers_onboarding_funds_wait_count', { ...labels, outcome: 'abandoned' })).toBe(1);
      expect(
        sumMetric(m, 'layers_onboarding_funds_wait_sum', { ...labels, outcome: 'funded' }),
      ).toBeGreaterThan(0);

      const state = await env.control.state();
      const byRoute = state.requests.byRoute;
      expect(sumMetric(m, 'layers_api_calls_total', { route: '/v1/organizations', status: '201' })).toBe(
        byRoute['POST /v1/organizations']!['201'],
      );
      expect(
        sumMetric(m, 'layers_api_calls_total', {
          route: '/v1/organizations/:orgId/credits/allocate',
          status: '402',
        }),
      ).toBe(2);
      const mint429 = byRoute['POST /v1/organizations/:orgId/api-keys']!['429'] ?? 0;
      expect(mint429).toBeGreaterThan(0);
      expect(
        sumMetric(m, 'layers_api_rate_limited_total', { route: '/v1/organizations/:orgId/api-keys' }),
      ).toBe(mint429);
      expect(sumMetric(m, 'layers_api_call_duration_count', { route: '/v1/whoami' })).toBeGreaterThan(0);

      // Temporal's own runtime metrics share the endpoint.
      expect(sumMetric(m, 'temporal_workflow_completed_total')).toBeGreaterThan(0);
      expect(sumMetric(m, 'temporal_activity_execution_latency_count')).toBeGreaterThan(0);
    });
  });
});
