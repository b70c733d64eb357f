import type { WorkflowDefinitionOptions, WorkflowDefinitionOptionsOrGetter } from '@temporalio/common';
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import { onboardCustomer } from './onboarding';
import { suspendCustomer } from './suspend';
import { offboardCustomer } from './offboarding';
import { reconcile } from './reconcile';

// Worker Deployment versioning, per workflow type (README "Shipping a new worker"). The short-lived
// workflows are PINNED: a run finishes on the build it started on, so a new build may reorder their
// commands without patched(), and old builds drain. customerLifecycle is not named here: it lives for
// years and takes the worker's default, AUTO_UPGRADE (worker/versioning.ts), moving to each new current
// build at its next task — its changes still go behind patched().
//
// The annotation is only given on a versioned worker. The server refuses a workflow task completed with a
// versioning behavior by a worker without a deployment ("versioning behavior cannot be specified without
// deployment options"), which would stall every workflow on the unversioned workers: the tests'
// in-process workers, the time-skipping test server, TEMPORAL_WORKER_VERSIONING=off. The options are read
// once per run when a worker first runs it, from its first workflow task: on a worker that started it, the
// worker's own deployment; on replay, the deployment recorded with that task. A run begun before
// versioning was on therefore stays unannotated, i.e. auto-upgrades, as every workflow did before.

type WorkflowFunction = Parameters<typeof setWorkflowOptions>[1];

function pinnedWhenVersioned(workflow: WorkflowFunction): void {
  // Keep whatever else the workflow's own module set (failureExceptionTypes, …): ours is added to it.
  const own = (workflow as { workflowDefinitionOptions?: WorkflowDefinitionOptionsOrGetter })
    .workflowDefinitionOptions;
  setWorkflowOptions((): WorkflowDefinitionOptions => {
    const base = (typeof own === 'function' ? own() : own) ?? {};
    return workflowInfo().currentDeploymentVersion?.deploymentName
      ? { ...base, versioningBehavior: 'PINNED' }
      : base;
  }, workflow);
}

for (const workflow of [onboardCustomer, suspendCustomer, offboardCustomer, reconcile])
  pinnedWhenVersioned(workflow);
