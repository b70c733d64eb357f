import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Activities } from '../../activities';
import { temporal } from '@temporalio/proto';
import { layersReadQueue, layersWriteQueue } from '../../common/ids';
import { customSearchAttributes } from '../../common/search-attributes';

const ROOT = path.resolve(__dirname, '../..');

/** The test server recorded by scripts/install-temporal-test-server.js; undefined: the SDK downloads it (internet). */
export function recordedTestServer(): string | undefined {
  if (process.env.TEMPORAL_TEST_SERVER_PATH) return process.env.TEMPORAL_TEST_SERVER_PATH;
  const record = path.join(ROOT, '.tools', 'temporal-test-server-path');
  if (!existsSync(record)) return undefined;
  const bin = readFileSync(record, 'utf8').trim();
  return bin && existsSync(bin) ? bin : undefined;
}

let runtimeInstalled = false;

/** Temporal's time-skipping test server: timers fire as soon as nothing else can happen first. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    try {
      // The SDK's own logs are noise here (the test server lacks capabilities core warns about); errors show.
      Runtime.install({
        logger: new DefaultLogger('ERROR'),
        telemetryOptions: {
          logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) },
        },
      });
    } catch {
      /* installed by another suite in this process */
    }
  }
  const executable = recordedTestServer();
  const env = await TestWorkflowEnvironment.createTimeSkipping(
    executable ? { server: { executable: { type: 'existing-path', path: executable } } } : {},
  );
  try {
    // As on the dev server and in production: workflows that upsert an unregistered key fail their tasks.
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(
        customSearchAttributes.map((key) => [
          key.name,
          temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        ]),
      ),
    });
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return env;
}

/** One activity execution a mock saw, on the test server's (skipped) clock. */
export interface ActivityCall {
  name: string;
  args: unknown[];
  /** When the server scheduled this attempt: skipped time, not wall-clock time. */
  scheduledAt: number;
  attempt: number;
}

// Mocks answer with just the fields the workflows read, and take each activity's own argument shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MockActivities = Partial<{ [K in keyof Activities]: (...args: any[]) => Promise<unknown> }>;

/** Wraps each mock so the test can see what ran, in order, and when on the server's clock. */
export function recording(mocks: MockActivities): { activities: MockActivities; calls: ActivityCall[] } {
  const calls: ActivityCall[] = [];
  const activities: MockActivities = {};
  for (const [name, fn] of Object.entries(mocks)) {
    activities[name as keyof Activities] = async (...args: unknown[]) => {
      const info = Context.current().info;
      calls.push({ name, args, scheduledAt: info.currentAttemptScheduledTimestampMs, attempt: info.attempt });
      return fn!(...args);
    };
  }
  return { activities, calls };
}

/**
 * The production worker's three pollers (workflows, Layers writes, Layers reads) on one task queue,
 * with the run's shared workflow bundle and mocked activities.
 */
export async function runWithMockedWorker<T>(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: MockActivities,
  fn: () => Promise<T>,
): Promise<T> {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  const common: Partial<WorkerOptions> = {
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    activities,
    shutdownGraceTime: 0,
  };
  const main = await Worker.create({
    ...common,
    taskQueue,
    ...(codePath ? { workflowBundle: { codePath } } : { workflowsPath: require.resolve('../../workflows') }),
  });
  const others = await Promise.all(
    [layersWriteQueue(taskQueue), layersReadQueue(taskQueue)].map((q) =>
      Worker.create({ ...common, taskQueue: q }),
    ),
  );
  const running = others.map((w) => w.run());
  try {
    return await main.runUntil(fn);
  } finally {
    for (const w of others) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(running);
  }
}

/**
 * One time-skipping server for the suite (jest's beforeAll/afterAll): read it with the returned function
 * inside tests. The server is slow to start under load, hence the hooks' own timeouts.
 */
export function useTimeSkippingEnv(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  }, 60_000);
  afterAll(async () => {
    await env?.teardown();
  }, 30_000);
  return () => {
    if (!env) throw new Error('the time-skipping server did not start (see beforeAll)');
    return env;
  };
}
