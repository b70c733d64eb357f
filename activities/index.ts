import { createCrmEventActivities, type CrmEventsConfig } from './crm-events';
import { createFirehoseActivities, type FirehoseActivityDeps } from './firehose';
import type { LayersClient } from './layers';
import { createLifecycleActivities } from './lifecycle';
import { createOnboardingActivities } from './onboarding';
import type { SecretSink } from './secret-sink';

export interface ActivityDeps {
  layers: LayersClient;
  secretSink: SecretSink;
  /** The partner firehose (LAYERS_FIREHOSE_URL/_EVENTS), the webhook URL policy and a resolver: activities/firehose.ts. */
  firehose?: FirehoseActivityDeps['firehose'];
  webhookUrlPolicy?: FirehoseActivityDeps['webhookUrlPolicy'];
  resolveHost?: FirehoseActivityDeps['resolveHost'];
  /** Lifecycle events to the partner's CRM (CRM_EVENTS_URL, CRM_EVENTS_SIGNING_SECRET): activities/crm-events.ts. */
  crmEvents?: CrmEventsConfig;
}

/** Activities close over their dependencies, so tests and the worker choose the client and sink. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOnboardingActivities(deps),
    ...createLifecycleActivities(deps),
    ...createFirehoseActivities(deps),
    ...createCrmEventActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
