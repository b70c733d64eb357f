import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { OnboardingClient } from '../../client';
import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';
import { layersReadQueue, layersWriteQueue } from '../../common/ids';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { recordedTemporalCli } from '../../scripts/temporal-cli';
import { LayersClient } from '../../activities/layers';
import { FileSecretSink } from '../../activities/secret-sink';
import type { SetCurrentPolicy } from '../../worker/versioning';
import { DEFAULT_DEPLOYMENT_NAME } from '../../worker/versioning';
import { installWorkerRuntime } from '../../worker/logging';
import { startWorker } from '../../worker/worker';
import { emulatorControl, startEmulator, type RunningEmulator } from '../helpers/emulator';
import { acmeCoffee, fastTiming, PARTNER_FIREHOSE } from '../helpers/onboarding-env';
import { spawnWorker, untilPolling, type WorkerProcess } from '../helpers/processes';
import { recordTestSecrets } from '../helpers/secret-registry';
import { eventually, uniqueTaskQueue } from '../helpers/temporal';
import { customerInLayers } from '../exactly-once/helpers';

// Issue 12, "Safe upgrades": Worker Deployment versioning across a rollout, with workers as operators run
// them (worker/main.ts, versioning on by default) and the operator's steps as the README gives them
// (`temporal worker deployment …`). Its own dev server: the deployment's state is this test's alone, and
// the drainage status refreshes every second instead of every 3 minutes.

const run = promisify(execFile);
const DEPLOYMENT = DEFAULT_DEPLOYMENT_NAME;
const OLD = '0.1.0';
const NEW = '0.2.0';

let server: DevServer;
let emulator: RunningEmulator;
let connection: Connection;
let client: Client;
let crm: OnboardingClient;
const workers: WorkerProcess[] = [];
const taskQueue = uniqueTaskQueue('versioning');
const secretsDir = mkdtempSync(path.join(os.tmpdir(), 'layers-secrets-'));

beforeAll(async () => {
  try {
    installWorkerRuntime({ LOG_LEVEL: 'ERROR' }); // the in-process workers' SDK logs are noise here
  } catch {
    /* another suite in this process installed it */
  }
  [server, emulator] = await Promise.all([
    startDevServer({
      uiPort: false,
      dynamicConfig: {
        'matching.wv.VersionDrainageStatusRefreshInterval': '1s',
        'matching.wv.VersionDrainageStatusVisibilityGracePeriod': '1s',
      },
    }),
    // Less than one onboarding's 5,000 credits: allocation waits for funds until the test tops up.
    startEmulator({ port: 0, quiet: true, parentCredits: 1000 }),
  ]);
  recordTestSecrets({ parentKeys: [emulator.parentKey], sinkDirs: [secretsDir] });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  crm = new OnboardingClient(client, taskQueue);
});

afterAll(async () => {
  for (const worker of workers) worker.kill();
  await connection?.close();
  await emulator?.close();
  await server?.stop();
});

function startBuild(buildId: string): WorkerProcess {
  const worker = spawnWorker(
    {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      LAYERS_API_URL: emulator.url,
      LAYERS_PARENT_KEY: emulator.parentKey,
      LAYERS_SECRET_SINK_DIR: secretsDir,
      LAYERS_FIREHOSE_URL: PARTNER_FIREHOSE.url,
      TEMPORAL_WORKER_BUILD_ID: buildId,
    },
    // Its own process group: tsx runs the worker in a child of its own, which a kill of tsx alone would leave running.
    { detached: true },
  );
  workers.push(worker);
  return worker;
}

async function logged(worker: WorkerProcess, text: string): Promise<void> {
  await eventually(
    async () =>
      worker.output().includes(text) ||
      (worker.child.exitCode !== null && Promise.reject(new Error(worker.output()))),
    { timeoutMs: 120_000, intervalMs: 200 },
  );
}

/** The Temporal CLI as the README's rollout runs it, against this test's server; its JSON output. */
async function temporalCli(args: string[]): Promise<unknown> {
  const { stdout } = await run(recordedTemporalCli()!, [
    ...args,
    '--address',
    server.address,
    '--namespace',
    server.namespace,
    '-o',
    'json',
  ]);
  return stdout.trim() ? JSON.parse(stdout) : undefined;
}

const describeVersion = (buildId: string) =>
  temporalCli([
    'worker',
    'deployment',
    'describe-version',
    '--deployment-name',
    DEPLOYMENT,
    '--build-id',
    buildId,
  ]) as Promise<{
    drainageInfo?: { drainageStatus?: string } | null;
    taskQueuesInfos?: Array<{ name: string; type: string }>;
  }>;

async function currentBuild(): Promise<string | undefined> {
  const { workerDeploymentInfo } = await connection.workflowService.describeWorkerDeployment({
    namespace: server.namespace,
    deploymentName: DEPLOYMENT,
  });
  return workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
}

/** The run's versioning as the server keeps it: behavior and the build it runs on. */
async function versioningOf(workflowId: string): Promise<{ behavior: string; buildId?: string }> {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  const info = raw.workflowExecutionInfo?.versioningInfo;
  return {
    behavior: temporal.api.enums.v1.VersioningBehavior[info?.behavior ?? 0]!.replace(
      'VERSIONING_BEHAVIOR_',
      '',
    ),
    buildId: info?.deploymentVersion?.buildId ?? undefined,
  };
}

async function runIds(workflowId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
    ids.push(execution.runId);
  return ids;
}

/** Every build that completed a workflow task of the workflow, over all its runs (continue-as-new). */
async function buildsThatRan(workflowId: string): Promise<string[]> {
  const builds = new Set<string>();
  for (const runId of await runIds(workflowId)) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    for (const event of history.events ?? []) {
      const completed = event.workflowTaskCompletedEventAttributes;
      if (completed) builds.add(completed.deploymentVersion?.buildId ?? '(unversioned)');
    }
  }
  return [...builds].sort();
}

test('a rollout: the onboarding in flight finishes on the old build, a new one runs on the new build, customers move', async () => {
  // Timing: funds re-checked every 200 ms, continuing as new every 3 rounds, so the waiting onboarding
  // starts new runs across the switch (a pinned run's continuation must stay on its build too).
  const timing = { ...fastTiming, fundsRecheckMs: 200, waitRoundsPerRun: 3 };

  // First deploy: nothing is current, so the worker makes its own version current (else it would sit idle).
  const old = startBuild(OLD);
  await untilPolling(old);
  expect(old.output()).toContain(`versioning ${DEPLOYMENT}.${OLD}`);
  await logged(old, `made version ${DEPLOYMENT}.${OLD} current`);
  expect(await currentBuild()).toBe(OLD);

  const first = acmeCoffee();
  const firstId = first.customer.externalId;
  await crm.start(first, { timing });
  await eventually(async () => (await crm.status(firstId)).waitingFor === 'waiting for funds', {
    timeoutMs: 60_000,
  });
  expect(await versioningOf(onboardingWorkflowId(firstId))).toEqual({ behavior: 'PINNED', buildId: OLD });
  expect(await versioningOf(customerWorkflowId(firstId))).toEqual({ behavior: 'AUTO_UPGRADE', buildId: OLD });

  // The new build starts beside it and does not take "current": that is the operator's step.
  const next = startBuild(NEW);
  await untilPolling(next);
  await logged(next, `${DEPLOYMENT}.${OLD} stays current`);
  expect(await currentBuild()).toBe(OLD);
  // Operator: the new version polls all three task queues, then make it current.
  const queues = (await describeVersion(NEW)).taskQueuesInfos?.map((q) => q.name) ?? [];
  for (const queue of [taskQueue, layersWriteQueue(taskQueue), layersReadQueue(taskQueue)])
    expect(queues).toContain(queue);
  await temporalCli([
    'worker',
    'deployment',
    'set-current-version',
    '--deployment-name',
    DEPLOYMENT,
    '--build-id',
    NEW,
    '--yes',
  ]);
  expect(await currentBuild()).toBe(NEW);
  const runsAtSwitch = (await runIds(onboardingWorkflowId(firstId))).length;

  const second = acmeCoffee();
  const secondId = second.customer.externalId;
  await crm.start(second, { timing });
  await eventually(async () => (await crm.status(secondId)).waitingFor === 'waiting for funds', {
    timeoutMs: 60_000,
  });
  expect(await versioningOf(onboardingWorkflowId(secondId))).toEqual({ behavior: 'PINNED', buildId: NEW });
  // The first onboarding kept waiting — and continuing as new — on the old build.
  await eventually(async () => (await runIds(onboardingWorkflowId(firstId))).length > runsAtSwitch + 1, {
    timeoutMs: 60_000,
  });
  expect(await versioningOf(onboardingWorkflowId(firstId))).toEqual({ behavior: 'PINNED', buildId: OLD });
  // Not current, with a pinned run open: draining (read from visibility, so allow for its lag).
  await eventually(async () => (await describeVersion(OLD)).drainageInfo?.drainageStatus === 'draining', {
    timeoutMs: 30_000,
    intervalMs: 500,
  });

  await emulatorControl(emulator.url).topUp(20_000);
  const [firstResult, secondResult] = await Promise.all([crm.result(firstId), crm.result(secondId)]);
  expect(firstResult.verified).toBe(true);
  expect(secondResult.verified).toBe(true);

  // Each onboarding ran on one build only, over all its runs; the first customer's workflow moved on.
  expect(await buildsThatRan(onboardingWorkflowId(firstId))).toEqual([OLD]);
  expect(await buildsThatRan(onboardingWorkflowId(secondId))).toEqual([NEW]);
  await eventually(async () => (await versioningOf(customerWorkflowId(firstId))).buildId === NEW, {
    timeoutMs: 30_000,
  });
  expect(await versioningOf(customerWorkflowId(firstId))).toEqual({ behavior: 'AUTO_UPGRADE', buildId: NEW });
  expect(await buildsThatRan(customerWorkflowId(firstId))).toEqual([OLD, NEW]);

  // Exactly once each: one org, one live key, one transfer (ledger on both sides), one project.
  const state = await emulatorControl(emulator.url).state();
  for (const [externalId, result] of [
    [firstId, firstResult],
    [secondId, secondResult],
  ] as const) {
    const mine = customerInLayers(state, externalId);
    expect(mine.orgs.map((o) => o.id)).toEqual([result.orgId]);
    expect(mine.liveKeys.map((k) => k.id)).toEqual([result.apiKey.id]);
    expect(mine.allocations.map((t) => t.id)).toEqual([result.transferId]);
    expect(mine.childLedger).toHaveLength(1);
    expect(mine.parentLedger).toHaveLength(1);
    expect(mine.projects).toHaveLength(1);
  }

  // Nothing pinned is left on the old build: drained, its workers can go; the customers keep answering.
  await eventually(async () => (await describeVersion(OLD)).drainageInfo?.drainageStatus === 'drained', {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  old.child.kill('SIGTERM');
  expect(await old.exited).toBe(0);
  // The first customer (auto-upgraded) answers from the new build, and its onboarding's result is history.
  // (A query on the closed onboarding itself would still be routed to the old build: README.)
  expect((await crm.customerStatus(firstId)).state).toBe('active');
  expect((await crm.result(firstId)).transferId).toBe(firstResult.transferId);
});

test('start-up: the first version becomes current; later builds take over only when told to (always), never under if-none', async () => {
  const native = await NativeConnection.connect({ address: server.address });
  const layers = new LayersClient({ baseUrl: emulator.url, apiKey: emulator.parentKey });
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  const deploymentName = `bootstrap-${Date.now().toString(36)}`;
  const queue = uniqueTaskQueue('bootstrap');
  /** A versioned worker runs until it has decided about the current version; its decision. */
  const boot = async (buildId: string, setCurrent: SetCurrentPolicy) => {
    const group = await startWorker({
      connection: native,
      temporal: { namespace: server.namespace, taskQueue: queue },
      deps: { layers, secretSink: new FileSecretSink(secretsDir) },
      workflowBundle: codePath ? { codePath } : undefined,
      shutdownGraceTimeMs: 0,
      versioning: { deploymentName, buildId, setCurrent },
    });
    const running = group.run();
    const outcome = await group.versionBootstrap!;
    group.shutdown();
    await running;
    return outcome;
  };
  const current = async () =>
    (
      await connection.workflowService.describeWorkerDeployment({
        namespace: server.namespace,
        deploymentName,
      })
    ).workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId;
  try {
    // Two builds first deployed at once: one becomes current, the other finds it current (conflict token).
    const outcomes = await Promise.all([boot('1', 'if-none'), boot('2', 'if-none')]);
    const made = outcomes.findIndex((o) => o.kind === 'made-current');
    expect(made).toBeGreaterThanOrEqual(0);
    const winner = String(made + 1);
    expect(outcomes[1 - made]).toEqual({ kind: 'not-current', current: `${deploymentName}.${winner}` });
    expect(await current()).toBe(winner);

    expect(await boot(winner, 'if-none')).toEqual({ kind: 'current' }); // a restart
    expect(await boot('3', 'never')).toMatchObject({ kind: 'not-current' });
    expect(await boot('3', 'always')).toEqual({
      kind: 'made-current',
      previous: `${deploymentName}.${winner}`,
    });
    expect(await current()).toBe('3');

    // An operator sent new work back to unversioned workers: a choice if-none leaves alone.
    await temporalCli([
      'worker',
      'deployment',
      'set-current-version',
      '--deployment-name',
      deploymentName,
      '--unversioned',
      '--yes',
    ]);
    expect(await boot('4', 'if-none')).toEqual({ kind: 'not-current', current: '__unversioned__' });
    expect(await current()).toBeUndefined();
  } finally {
    await layers.close();
    await native.close();
  }
});

test('a server without worker deployments: the worker exits naming TEMPORAL_WORKER_VERSIONING; with it off, it onboards', async () => {
  const bare = await startDevServer({
    uiPort: false,
    dynamicConfig: { 'system.enableDeploymentVersions': false },
  });
  let bareConnection: Connection | undefined;
  const queue = uniqueTaskQueue('no-deployments');
  const env = {
    TEMPORAL_ADDRESS: bare.address,
    TEMPORAL_NAMESPACE: bare.namespace,
    TEMPORAL_TASK_QUEUE: queue,
    LAYERS_API_URL: emulator.url,
    LAYERS_PARENT_KEY: emulator.parentKey,
    LAYERS_SECRET_SINK_DIR: secretsDir,
  };
  try {
    const versioned = spawnWorker(env, { detached: true });
    workers.push(versioned);
    expect(await versioned.exited).toBe(1);
    expect(versioned.output()).toMatch(
      /worker: configuration: TEMPORAL_WORKER_VERSIONING: .*set TEMPORAL_WORKER_VERSIONING=off/,
    );

    const unversioned = spawnWorker({ ...env, TEMPORAL_WORKER_VERSIONING: 'off' }, { detached: true });
    workers.push(unversioned);
    await untilPolling(unversioned);
    expect(unversioned.output()).toContain('; versioning off');
    bareConnection = await Connection.connect({ address: bare.address });
    const bareCrm = new OnboardingClient(
      new Client({ connection: bareConnection, namespace: bare.namespace }),
      queue,
    );
    await emulatorControl(emulator.url).topUp(5_000);
    const request = acmeCoffee();
    await bareCrm.start(request);
    expect((await bareCrm.result(request.customer.externalId)).verified).toBe(true);
    unversioned.child.kill('SIGTERM');
    expect(await unversioned.exited).toBe(0);
  } finally {
    await bareConnection?.close();
    await bare.stop();
  }
});
