import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startOnboardingTestEnv, uniqueExternalId, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';

// The worker and the CLI as operators run them, each in its own process, exporting OTLP/HTTP to a collector
// (here a tiny HTTP server): the worker bundles the tracing interceptors itself, and the CLI's command and
// the worker's workflow and activity spans land in one trace.

const ROOT = path.resolve(__dirname, '../..');

interface ExportedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

/** Reads OTLP/HTTP JSON export requests (the exporter's default encoding). */
async function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      type Attribute = { key: string; value: { stringValue?: string } };
      const payload = JSON.parse(body) as {
        resourceSpans: Array<{
          resource: { attributes: Attribute[] };
          scopeSpans: Array<{ spans: Array<Omit<ExportedSpan, 'service'>> }>;
        }>;
      };
      for (const rs of payload.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function spawnTsx(script: string, env: Record<string, string>, args: string[] = []) {
  const chunks: string[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve('tsx/cli'), path.join(ROOT, script), ...args],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => chunks.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => chunks.join(''), exited };
}

let env: OnboardingTestEnv;
let collector: Awaited<ReturnType<typeof startCollector>>;
let worker: ReturnType<typeof spawnTsx> | undefined;

beforeAll(async () => {
  [env, collector] = await Promise.all([startOnboardingTestEnv(), startCollector()]);
});
afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await collector?.close();
  await env?.close();
});

test('worker and CLI processes export one trace over OTLP, from `onboard start` to the activities', async () => {
  const temporalEnv = {
    TEMPORAL_ADDRESS: env.temporal.address,
    TEMPORAL_NAMESPACE: env.temporal.namespace,
    TEMPORAL_TASK_QUEUE: env.taskQueue,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
  };
  worker = spawnTsx('worker/main.ts', {
    ...temporalEnv,
    LAYERS_API_URL: env.emulator.url,
    LAYERS_PARENT_KEY: env.emulator.parentKey,
    LAYERS_SECRET_SINK_DIR: env.secretsDir,
    LOG_LEVEL: 'INFO',
  });
  const running = worker;
  await eventually(
    async () =>
      running.output().includes('worker: polling') ||
      (running.child.exitCode !== null && Promise.reject(new Error(running.output()))),
    { timeoutMs: 90_000, intervalMs: 250 },
  );
  expect(worker.output()).toContain('tracing on (OTLP)');

  const externalId = uniqueExternalId('otlp');
  const cli = spawnTsx('client/cli/main.ts', temporalEnv, [
    'start',
    '--external-id',
    externalId,
    '--name',
    'Exported Coffee',
    '--credits',
    '100',
    '--wait',
    '--json',
  ]);
  expect([await cli.exited, cli.output()]).toEqual([0, expect.stringContaining('"verified": true')]);

  // The CLI flushed before exiting; the worker exports in batches (every 5 s), and flushes when it stops.
  const root = collector.spans.find(
    (s) => s.service === 'layers-onboarding-cli' && s.name === 'onboard start',
  );
  expect(root).toBeDefined();
  expect(root!.parentSpanId).toBeUndefined();
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
  worker = undefined;

  const trace = collector.spans.filter((s) => s.traceId === root!.traceId);
  const names = (service: string) => trace.filter((s) => s.service === service).map((s) => s.name);
  expect(names('layers-onboarding-cli')).toEqual(
    expect.arrayContaining(['onboard start', 'StartWorkflow:customerLifecycle']),
  );
  expect(names('layers-onboarding-worker')).toEqual(
    expect.arrayContaining([
      'RunWorkflow:onboardCustomer',
      'StartActivity:createChildOrganization',
      'RunActivity:createChildOrganization',
      'RunActivity:allocateCredits',
      'RunActivity:verifyOnboarding',
    ]),
  );
  // Every span of the trace hangs off another span of it, up to the CLI's root (the customer workflow's
  // own run is still open, so its span is not exported yet: its children name it as their parent).
  const ids = new Set(trace.map((s) => s.spanId));
  const customerRunId = trace.find((s) => s.name === 'StartChildWorkflow:onboardCustomer')?.parentSpanId;
  expect(customerRunId).toBeDefined();
  for (const span of trace) {
    if (span === root) continue;
    expect([span.name, ids.has(span.parentSpanId!) || span.parentSpanId === customerRunId]).toEqual([
      span.name,
      true,
    ]);
  }
});
