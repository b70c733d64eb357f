import { ChildOrgIndex } from './child-orgs';
import { createCrmEventActivities, type CrmEventsConfig } from './crm-events';
import { createFirehoseActivities, type FirehoseActivityDeps } from './firehose';
import type { Client } from '@temporalio/client';
import type { LayersClient } from './layers';
import { createLifecycleActivities } from './lifecycle';
import { createOnboardingActivities } from './onboarding';
import { createReconcileActivities } from './reconcile';
import type { SecretSink } from './secret-sink';

export interface ActivityDeps {
  layers: LayersClient;
  secretSink: SecretSink;
  /** The partner firehose (LAYERS_FIREHOSE_URL/_EVENTS), the webhook URL policy and a resolver: activities/firehose.ts. */
  firehose?: FirehoseActivityDeps['firehose'];
  webhookUrlPolicy?: FirehoseActivityDeps['webhookUrlPolicy'];
  resolveHost?: FirehoseActivityDeps['resolveHost'];
  /** Visibility queries (the reconcile scan); startWorker supplies one on the worker's connection. */
  temporalClient?: Client;
  /** Lifecycle events to the partner's CRM (CRM_EVENTS_URL, CRM_EVENTS_SIGNING_SECRET): activities/crm-events.ts. */
  crmEvents?: CrmEventsConfig;
}

/** Activities close over their dependencies, so tests and the worker choose the client and sink. */
export function createActivities(deps: ActivityDeps) {
  // One index of the parent's children per worker: onboarding's reconcile and the customer's adoption
  // look-ups both page it (200 at a time, heartbeating) instead of each listing every child.
  const childIndex = new ChildOrgIndex(deps.layers);
  return {
    ...createOnboardingActivities({ ...deps, childIndex }),
    ...createLifecycleActivities({ ...deps, childIndex }),
    ...createFirehoseActivities(deps),
    ...createReconcileActivities({ ...deps, firehoseUrl: deps.firehose?.url }),
    ...createCrmEventActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
