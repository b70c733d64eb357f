import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import { installWorkerRuntime } from '../../worker/logging';
import { startWorker, type StartWorkerConfig, type WorkerGroup } from '../../worker/worker';

let runtimeInstalled = false;
/** The SDK's own logs are noise in test output; failures still surface as test errors. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    installWorkerRuntime({ LOG_LEVEL: 'ERROR' }); // the worker's own logger (JSON, scrubbed), errors only
  } catch {
    /* already installed by another suite in this process */
  }
}

export interface TemporalTestContext {
  address: string;
  namespace: string;
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

export async function connectTestTemporal(): Promise<TemporalTestContext> {
  quietRuntime();
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  const namespace = process.env.TEST_TEMPORAL_NAMESPACE ?? 'default';
  if (!address)
    throw new Error(
      'TEST_TEMPORAL_ADDRESS is not set: run the tests through jest (global setup starts the dev server)',
    );
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    namespace,
    connection,
    nativeConnection,
    client: new Client({ connection, namespace }),
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/** startWorker on the shared connection, with the run's pre-built workflow bundle. */
export async function createTestWorker(
  ctx: TemporalTestContext,
  taskQueue: string,
  deps: ActivityDeps,
  extra: Partial<StartWorkerConfig> = {},
): Promise<WorkerGroup> {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  return startWorker({
    connection: ctx.nativeConnection,
    temporal: { namespace: ctx.namespace, taskQueue },
    deps,
    workflowBundle: codePath ? { codePath } : undefined,
    // A suite's worker stops when its case ends: activities still running then (blocked on a fault) are
    // cancelled at once, as the SDK's default does, rather than holding the suite for the production 30 s.
    shutdownGraceTimeMs: 0,
    ...extra,
  });
}

/** Polls until `check` returns a value (not undefined/false) or the deadline passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
