import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OnboardingTestEnv } from './onboarding-env';
import { eventually } from './temporal';

// The worker and the CLI as operators run them: in processes of their own (through tsx), for the suites
// that kill, restart or read the logs of one. One place for the spawn boilerplate those suites share.

export const ROOT = path.resolve(__dirname, '../..');
const TSX = require.resolve('tsx/cli');

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything the worker wrote to stdout and stderr so far. */
  output: () => string;
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGKILL (or `signal`); a detached worker's whole group, since tsx runs it in a child of its own. */
  kill: (signal?: NodeJS.Signals) => void;
}

export interface SpawnWorkerOptions {
  /** Its own process group, so that kill reaches tsx's child too. */
  detached?: boolean;
  /** stdout and stderr go to this file (appended) rather than to memory. */
  logFile?: string;
  /** Start from this process's whole environment instead of only PATH, HOME and LOG_LEVEL=INFO. */
  inheritEnv?: boolean;
}

/**
 * The settings pointing a worker at a suite's Temporal server, task queue, emulator and secret sink.
 * Unversioned, like the suite's in-process workers (env.run) that share its task queue: a versioned worker
 * there would register the queue with a deployment version, and the server would then route the queue's
 * new and pinned workflows to that version only, never to the in-process worker that is to finish them.
 * test/upgrade/versioning.test.ts runs versioned workers; processes spawned without workerEnv keep the
 * production default (versioning on).
 */
export function workerEnv(env: OnboardingTestEnv): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: env.temporal.address,
    TEMPORAL_NAMESPACE: env.temporal.namespace,
    TEMPORAL_TASK_QUEUE: env.taskQueue,
    LAYERS_API_URL: env.emulator.url,
    LAYERS_PARENT_KEY: env.emulator.parentKey,
    LAYERS_SECRET_SINK_DIR: env.secretsDir,
    TEMPORAL_WORKER_VERSIONING: 'off',
  };
}

/** `npm run worker` in its own process with `env` on top of a minimal environment. */
export function spawnWorker(env: Record<string, string>, options: SpawnWorkerOptions = {}): WorkerProcess {
  const base = options.inheritEnv
    ? process.env
    : { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), LOG_LEVEL: 'INFO' };
  const { logFile } = options;
  const child = spawn(process.execPath, [TSX, path.join(ROOT, 'worker/main.ts')], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: logFile ? ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] : ['ignore', 'pipe', 'pipe'],
    ...(options.detached ? { detached: true } : {}),
  });
  const chunks: string[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (options.detached) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        child.kill(signal);
      }
    } else if (child.exitCode === null) child.kill(signal);
  };
  return {
    child,
    output: () => (logFile ? readFileSync(logFile, 'utf8') : chunks.join('')),
    exited,
    kill,
  };
}

/** Until the worker logs that it polls; fails with its output if it exits first. */
export async function untilPolling(worker: WorkerProcess, timeoutMs = 120_000): Promise<void> {
  await eventually(
    async () =>
      worker.output().includes('worker: polling') ||
      (worker.child.exitCode !== null && Promise.reject(new Error(worker.output()))),
    { timeoutMs, intervalMs: 250 },
  );
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run onboard -- …` in its own process, with this process's environment and `env` on top. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [TSX, 'client/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
