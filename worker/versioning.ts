import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import { isUnavailable } from '../common/connection';
import type { Logger } from '../common/logger';

// Worker Deployment versioning: every worker process announces `deploymentName` + `buildId`, and the
// server routes each workflow to a version — new executions to the deployment's current version, pinned
// ones (onboarding, suspend, offboarding, reconcile: workflows/versioning.ts) to the build they started
// on, auto-upgrade ones (the long-lived customer workflow) to whatever is current at their next task.

/** What a worker does about the deployment's current version once its own version has registered. */
export type SetCurrentPolicy = 'if-none' | 'always' | 'never';

export interface WorkerVersioning {
  deploymentName: string;
  buildId: string;
  /**
   * `if-none` (default): make this version current only when the deployment has never had one (the first
   * versioned deploy); a later build waits for the operator's `set-current-version` or ramp. `always`:
   * take over at start-up (single-worker set-ups, the demo). `never`: the operator does it every time.
   */
  setCurrent: SetCurrentPolicy;
}

export const DEFAULT_DEPLOYMENT_NAME = 'layers-onboarding';

/**
 * Workflows that do not say otherwise: the customer workflow, and runs begun before versioning was on
 * (their first task carries no deployment, so workflows/versioning.ts leaves them unannotated). A
 * customer lives for years: pinned, it would hold its first build forever. Auto-upgrade is how every
 * workflow behaved before versioning, so their code changes go behind patched() as they always did.
 */
export const DEFAULT_VERSIONING_BEHAVIOR = 'AUTO_UPGRADE' as const;

export function workerDeploymentOptions(
  versioning: WorkerVersioning | undefined,
): WorkerDeploymentOptions | undefined {
  if (!versioning) return undefined;
  return {
    useWorkerVersioning: true,
    version: { deploymentName: versioning.deploymentName, buildId: versioning.buildId },
    defaultVersioningBehavior: DEFAULT_VERSIONING_BEHAVIOR,
  };
}

/** `layers-onboarding.0.2.0`, as `temporal worker deployment` prints versions. */
export function versionName(versioning: Pick<WorkerVersioning, 'deploymentName' | 'buildId'>): string {
  return `${versioning.deploymentName}.${versioning.buildId}`;
}

export type BootstrapOutcome =
  /** This version was current already (a restart, another replica made it so, or the operator did). */
  | { kind: 'current' }
  /** This worker made its version current: first deploy, or TEMPORAL_WORKER_SET_CURRENT=always. */
  | { kind: 'made-current'; previous?: string }
  /** Another version (or explicitly the unversioned workers) stays current: the operator's rollout step. */
  | { kind: 'not-current'; current: string; ramping?: string }
  /** The server has no worker deployments (too old, or turned off): a versioned worker gets no work there. */
  | { kind: 'unsupported'; error: string }
  /** The deployment could not be read or changed (a manager identity, a missing task queue, …). */
  | { kind: 'failed'; error: string }
  | { kind: 'stopped' };

export interface BootstrapOptions {
  client: Client;
  namespace: string;
  versioning: WorkerVersioning;
  logger?: Logger;
  signal?: AbortSignal;
  /** How long to wait for this version to register (its pollers reach the server); default 5 min. */
  registrationTimeoutMs?: number;
  /** Between two looks at the deployment while waiting; default 250 ms. */
  intervalMs?: number;
}

const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7; // "Worker Deployment Versions are disabled on this namespace"
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_UNIMPLEMENTED = 12; // a server from before worker deployments
const UNVERSIONED = '__unversioned__';
const CALL_DEADLINE_MS = 10_000;

class Stopped extends Error {}

/**
 * Once the worker polls: with no current version the server hands every new execution to unversioned
 * workers, so a fleet of versioned workers only would sit idle. This makes the worker's own version
 * current when the policy allows — never taking "current" from another version under `if-none` — and
 * logs what an operator has to do otherwise. Concurrent replicas are safe: the change carries the
 * conflict token of the state it was decided on, and a loser re-reads and finds a current version.
 */
export async function bootstrapCurrentVersion(options: BootstrapOptions): Promise<BootstrapOutcome> {
  const { client, namespace, versioning, logger, signal } = options;
  const { deploymentName, buildId } = versioning;
  const name = versionName(versioning);
  const deadline = Date.now() + (options.registrationTimeoutMs ?? 300_000);
  const interval = options.intervalMs ?? 250;
  const service = client.workflowService;
  // A stopping worker does not wait for a call in flight: close() awaits this function.
  const call = <T>(fn: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      client.withDeadline(Date.now() + CALL_DEADLINE_MS, fn).then(resolve, reject);
      if (signal?.aborted) reject(new Stopped());
      signal?.addEventListener('abort', () => reject(new Stopped()), { once: true });
    });
  const identity = `layers-onboarding-worker ${os.hostname()}/${process.pid}`;
  const failed = (error: unknown): BootstrapOutcome => {
    if (error instanceof Stopped) return { kind: 'stopped' };
    const message = (error as Error).message;
    const code = (error as { code?: number }).code;
    if (
      code === GRPC_UNIMPLEMENTED ||
      (code === GRPC_PERMISSION_DENIED && /disabled|not enabled|not supported/i.test(message))
    ) {
      logger?.error(
        { deploymentName, buildId, error: message },
        `worker: this Temporal namespace has no worker deployments (${message}): a versioned worker gets no` +
          ` work there; set TEMPORAL_WORKER_VERSIONING=off`,
      );
      return { kind: 'unsupported', error: message };
    }
    logger?.error(
      { deploymentName, buildId, error: message },
      `worker: could not check or set the current version of worker deployment ${deploymentName}: ${message}` +
        ` (new executions go to the deployment's current version; see README "Shipping a new worker")`,
    );
    return { kind: 'failed', error: message };
  };

  for (;;) {
    if (signal?.aborted) return { kind: 'stopped' };
    let described;
    try {
      described = await call(() => service.describeWorkerDeployment({ namespace, deploymentName }));
    } catch (err) {
      // The deployment appears with the first poll that names it: not yet, or the server cannot version.
      // An unreachable server (a restart) is waited for like a missing deployment.
      if ((err as { code?: number }).code !== GRPC_NOT_FOUND && !isUnavailable(err)) return failed(err);
    }
    const info = described?.workerDeploymentInfo;
    const registered = info?.versionSummaries?.some((v) => v.deploymentVersion?.buildId === buildId);
    if (!described || !info || !registered) {
      if (Date.now() > deadline)
        return failed(new Error(`version ${name} did not register within the time allowed`));
      await pause(interval, signal);
      continue;
    }
    const routing = info.routingConfig;
    const current = routing?.currentDeploymentVersion?.buildId ?? undefined;
    const ramping = routing?.rampingDeploymentVersion?.buildId ?? undefined;
    if (current === buildId) {
      logger?.info(
        { deploymentName, buildId },
        `worker: version ${name} is the current version of deployment ${deploymentName}`,
      );
      return { kind: 'current' };
    }
    // No current build and never changed: the first versioned deploy. Changed to "unversioned": an
    // operator chose the unversioned workers, which is a current choice too.
    const none = !current && !routing?.currentVersionChangedTime;
    const take = versioning.setCurrent === 'always' || (versioning.setCurrent === 'if-none' && none);
    if (!take) {
      const currentName = current ? `${deploymentName}.${current}` : UNVERSIONED;
      logger?.warn(
        { deploymentName, buildId, current: currentName, ...(ramping ? { ramping } : {}) },
        `worker: version ${name} polls, but ${currentName} stays current${ramping ? ` (ramping: ${deploymentName}.${ramping})` : ''}:` +
          ` new executions and auto-upgrading customers go there until an operator runs` +
          ` \`temporal worker deployment set-current-version --deployment-name ${deploymentName} --build-id ${buildId}\`` +
          ` (or set-ramping-version)`,
      );
      return { kind: 'not-current', current: currentName, ...(ramping ? { ramping } : {}) };
    }
    try {
      await call(() =>
        service.setWorkerDeploymentCurrentVersion({
          namespace,
          deploymentName,
          buildId,
          conflictToken: described.conflictToken,
          identity,
        }),
      );
    } catch (err) {
      // Someone else changed the deployment since we read it (another replica, an operator): decide again.
      if (
        (err as { code?: number }).code === GRPC_FAILED_PRECONDITION &&
        /conflict token/i.test((err as Error).message)
      )
        continue;
      if (isUnavailable(err) && Date.now() < deadline) {
        await pause(interval, signal);
        continue;
      }
      return failed(err);
    }
    const previous = current ? `${deploymentName}.${current}` : undefined;
    logger?.info(
      { deploymentName, buildId, ...(previous ? { previous } : {}), setCurrent: versioning.setCurrent },
      `worker: made version ${name} current for deployment ${deploymentName}` +
        (previous ? ` (was ${previous}; TEMPORAL_WORKER_SET_CURRENT=always)` : ' (its first version)'),
    );
    return { kind: 'made-current', ...(previous ? { previous } : {}) };
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
