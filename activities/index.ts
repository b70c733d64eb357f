import type { LayersClient } from './layers';
import { createLifecycleActivities } from './lifecycle';
import { createOnboardingActivities } from './onboarding';
import type { SecretSink } from './secret-sink';

export interface ActivityDeps {
  layers: LayersClient;
  secretSink: SecretSink;
}

/** Activities close over their dependencies, so tests and the worker choose the client and sink. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOnboardingActivities(deps),
    ...createLifecycleActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
