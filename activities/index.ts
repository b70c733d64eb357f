import type { Client } from '@temporalio/client';
import type { LayersClient } from './layers';
import { createLifecycleActivities } from './lifecycle';
import { createOnboardingActivities } from './onboarding';
import { createReconcileActivities } from './reconcile';
import type { SecretSink } from './secret-sink';

export interface ActivityDeps {
  layers: LayersClient;
  secretSink: SecretSink;
  /** Visibility queries (the reconcile scan); startWorker supplies one on the worker's connection. */
  temporalClient?: Client;
  /** LAYERS_FIREHOSE_URL: the reconcile scan checks the partner-level endpoint exists; unset skips that check. */
  firehoseUrl?: string;
}

/** Activities close over their dependencies, so tests and the worker choose the client and sink. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOnboardingActivities(deps),
    ...createLifecycleActivities(deps),
    ...createReconcileActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
