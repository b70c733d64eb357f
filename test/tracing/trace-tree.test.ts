import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { LayersClient } from '../../activities/layers';
import { FileSecretSink } from '../../activities/secret-sink';
import { run as runCli } from '../../client/cli/main';
import { OnboardingClient } from '../../client';
import { Worker } from '@temporalio/worker';
import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';
import { setUpTracing, type Tracing } from '../../common/tracing';
import { emulatorControl, startEmulator, type RunningEmulator } from '../helpers/emulator';
import { uniqueExternalId } from '../helpers/onboarding-env';
import { recordTestSecrets } from '../helpers/secret-registry';
import {
  connectTestTemporal,
  createTestWorker,
  uniqueTaskQueue,
  type TemporalTestContext,
} from '../helpers/temporal';
import { startTraceparentProxy, tracingWorkflowBundle } from '../helpers/tracing';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let temporal: TemporalTestContext;
let emulator: RunningEmulator;
let proxy: Awaited<ReturnType<typeof startTraceparentProxy>>;
let layers: LayersClient;
let bundle: { codePath: string };
const taskQueue = uniqueTaskQueue('tracing');
const savedEnv = { ...process.env };
let tracedExternalId: string | undefined;

beforeAll(async () => {
  tracing = setUpTracing({ serviceName: 'tracing-test', exporter })!;
  [temporal, emulator, bundle] = await Promise.all([
    connectTestTemporal(),
    startEmulator({ port: 0, quiet: true }),
    tracingWorkflowBundle(),
  ]);
  proxy = await startTraceparentProxy(emulator.url);
  layers = new LayersClient({ baseUrl: proxy.url, apiKey: emulator.parentKey });
  // The CLI connects from the environment, as an operator's shell does.
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
  });
});

afterAll(async () => {
  process.env = savedEnv;
  await tracing?.shutdown();
  await layers?.close();
  await proxy?.close();
  await emulator?.close();
  await temporal?.close();
});

const id = (s: ReadableSpan) => s.spanContext().spanId;
const traceId = (s: ReadableSpan) => s.spanContext().traceId;

test('one trace runs from the CLI command through both workflows and every activity to the Layers calls', async () => {
  const secretsDir = mkdtempSync(path.join(os.tmpdir(), 'layers-secrets-'));
  recordTestSecrets({ parentKeys: [emulator.parentKey], sinkDirs: [secretsDir] });
  const worker = await createTestWorker(
    temporal,
    taskQueue,
    { layers, secretSink: new FileSecretSink(secretsDir) },
    {
      tracing,
      workflowBundle: bundle,
    },
  );
  const externalId = uniqueExternalId('traced');
  tracedExternalId = externalId;
  jest.spyOn(console, 'log').mockImplementation(() => undefined); // the CLI's own output
  await worker.runUntil(async () => {
    const code = await runCli([
      'start',
      '--external-id',
      externalId,
      '--name',
      'Traced Coffee',
      '--credits',
      '100',
      '--wait',
      '--json',
    ]);
    expect(code).toBe(0);
    // Churned, the customer workflow completes, so its RunWorkflow span ends and is exported too.
    const crm = await OnboardingClient.connect();
    try {
      await crm.churnAndWait(externalId, { reason: 'trace test', eventId: `${externalId}-churn` });
      await crm.customerResult(externalId);
    } finally {
      await crm.close();
    }
  });
  await tracing.forceFlush();
  const spans = exporter.getFinishedSpans();
  const root = only(spans, (s) => s.name === 'onboard start');
  expect(root.parentSpanId).toBeUndefined();
  const trace = spans.filter((s) => traceId(s) === traceId(root));
  const child = (parent: ReadableSpan, spanName: string) =>
    only(trace, (s) => s.name === spanName && s.parentSpanId === id(parent));

  // CLI → client start → customer workflow → its onboarding child, each span the parent of the next.
  const start = child(root, 'StartWorkflow:customerLifecycle');
  const customer = child(start, 'RunWorkflow:customerLifecycle');
  const onboarding = child(
    child(customer, 'StartChildWorkflow:onboardCustomer'),
    'RunWorkflow:onboardCustomer',
  );
  expect(customer.attributes).toMatchObject({ workflowId: customerWorkflowId(externalId) });
  // Workflow spans carry the run's plain facts, never its memo, search attributes or last result.
  expect(onboarding.attributes).toMatchObject({ workflowType: 'onboardCustomer', taskQueue, attempt: 1 });
  for (const key of ['memo', 'searchAttributes', 'typedSearchAttributes', 'parent', 'root', 'lastResult'])
    expect(Object.keys(onboarding.attributes)).not.toContain(key);

  // Every activity the onboarding scheduled ran under its StartActivity span.
  const scheduled = trace.filter(
    (s) => s.parentSpanId === id(onboarding) && s.name.startsWith('StartActivity:'),
  );
  expect(scheduled.map((s) => s.name)).toEqual(
    expect.arrayContaining([
      'StartActivity:createChildOrganization',
      'StartActivity:mintChildApiKey',
      'StartActivity:allocateCredits',
      'StartActivity:verifyOnboarding',
    ]),
  );
  const ran = scheduled.map((s) => child(s, s.name.replace('StartActivity:', 'RunActivity:')));

  // The offboarding the churn started belongs to the customer's trace too (it is the customer workflow's work).
  const offboarding = child(
    child(customer, 'StartChildWorkflow:offboardCustomer'),
    'RunWorkflow:offboardCustomer',
  );
  const archive = child(
    child(offboarding, 'StartActivity:archiveOrganization'),
    'RunActivity:archiveOrganization',
  );

  // Layers saw the trace: every request carried a traceparent of this trace whose parent is the activity
  // that made it, and every request went through the recording proxy.
  const state = await emulatorControl(emulator.url).state();
  expect(proxy.requests).toHaveLength(state.requests.total);
  expect(ran.length).toBeGreaterThan(0);
  expect(archive).toBeDefined();
  // Every activity of the trace (the offboarding's webhook clean-up too, not only the ones named above).
  const activitySpans = new Map(
    trace.filter((s) => s.name.startsWith('RunActivity:')).map((s) => [id(s), s.name]),
  );
  for (const request of proxy.requests) {
    const [version, requestTraceId, parentId, flags] = (request.traceparent ?? '').split('-');
    expect({ request: `${request.method} ${request.path}`, version, requestTraceId, flags }).toEqual({
      request: `${request.method} ${request.path}`,
      version: '00',
      requestTraceId: traceId(root),
      flags: '01',
    });
    expect(activitySpans.get(parentId!)).toMatch(/^RunActivity:/);
  }
  const callers = new Set(proxy.requests.map((r) => activitySpans.get(r.traceparent!.split('-')[2]!)));
  expect([...callers]).toEqual(
    expect.arrayContaining([
      'RunActivity:createChildOrganization',
      'RunActivity:allocateCredits',
      'RunActivity:archiveOrganization',
    ]),
  );
});

test('histories a traced worker wrote replay on an untraced worker (tracing can be turned off mid-flight)', async () => {
  expect(tracedExternalId).toBeDefined();
  const workflowIds = [customerWorkflowId(tracedExternalId!), onboardingWorkflowId(tracedExternalId!)];
  for (const workflowId of workflowIds) {
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    // The trace context did travel in the history's headers…
    expect(JSON.stringify(history)).toContain('_tracer-data');
    // …and the shared, untraced bundle replays it.
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } },
      history,
      workflowId,
    );
  }
});

function only(spans: ReadableSpan[], match: (s: ReadableSpan) => boolean): ReadableSpan {
  const found = spans.filter(match);
  if (found.length !== 1)
    throw new Error(
      `expected one matching span, found ${found.length} among: ${spans.map((s) => s.name).join(', ')}`,
    );
  return found[0]!;
}
