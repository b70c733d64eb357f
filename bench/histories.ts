/**
 * What one onboarding asks of the Temporal server, counted from its histories: the customer's workflow and
 * every child it started (the onboarding, today), events by kind. The dev server's CPU per onboarding
 * follows these counts (bench/RESULTS.md), so the bench prints them beside the timings.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { customerWorkflowId } from '../common/ids';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const { EventType } = temporal.api.enums.v1;

export interface HistoryCounts {
  /** Workflow executions: the customer's and its children. */
  executions: number;
  events: number;
  /** Workflow tasks a worker started (each a round trip through the server and a history write). */
  workflowTasks: number;
  /** Of those, failed or timed out (a replay, a stuck task): 0 on a healthy run. */
  workflowTaskFailures: number;
  activityTasks: number;
  /** Local activities (their markers); no task of their own, but a marker event each. */
  localActivities: number;
  /** `patched()` markers. */
  patchMarkers: number;
  /** Search-attribute upserts: each is its own visibility write. */
  searchAttributeUpserts: number;
  memoUpserts: number;
  signals: number;
  updates: number;
  childWorkflows: number;
  timers: number;
}

const ZERO: HistoryCounts = {
  executions: 0,
  events: 0,
  workflowTasks: 0,
  workflowTaskFailures: 0,
  activityTasks: 0,
  localActivities: 0,
  patchMarkers: 0,
  searchAttributeUpserts: 0,
  memoUpserts: 0,
  signals: 0,
  updates: 0,
  childWorkflows: 0,
  timers: 0,
};

/** The event's type by name, whether it comes from the server (a number) or from a JSON history (a name). */
function typeName(event: HistoryEvent): string {
  const t = event.eventType as unknown;
  return typeof t === 'number' ? (EventType[t] ?? String(t)) : String(t);
}

/** Counts one execution's events. */
export function countEvents(events: HistoryEvent[]): HistoryCounts {
  const c = { ...ZERO, executions: 1, events: events.length };
  for (const e of events) {
    switch (typeName(e)) {
      case 'EVENT_TYPE_WORKFLOW_TASK_STARTED':
        c.workflowTasks++;
        break;
      case 'EVENT_TYPE_WORKFLOW_TASK_FAILED':
      case 'EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT':
        c.workflowTaskFailures++;
        break;
      case 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED':
        c.activityTasks++;
        break;
      case 'EVENT_TYPE_MARKER_RECORDED': {
        const name = e.markerRecordedEventAttributes?.markerName;
        if (name === 'core_local_activity') c.localActivities++;
        else if (name === 'core_patch') c.patchMarkers++;
        break;
      }
      case 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES':
        c.searchAttributeUpserts++;
        break;
      case 'EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED':
        c.memoUpserts++;
        break;
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED':
        c.signals++;
        break;
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED':
        c.updates++;
        break;
      case 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED':
        c.childWorkflows++;
        break;
      case 'EVENT_TYPE_TIMER_STARTED':
        c.timers++;
        break;
    }
  }
  return c;
}

export function addCounts(a: HistoryCounts, b: HistoryCounts): HistoryCounts {
  return Object.fromEntries(
    Object.entries(a).map(([k, v]) => [k, v + b[k as keyof HistoryCounts]]),
  ) as unknown as HistoryCounts;
}

/** Children the execution started, with the run ids the server gave them. */
function children(events: HistoryEvent[]): Array<{ workflowId: string; runId?: string }> {
  const out: Array<{ workflowId: string; runId?: string }> = [];
  for (const e of events) {
    const started = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (typeName(e) === 'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED' && started?.workflowId)
      out.push({ workflowId: started.workflowId, runId: started.runId ?? undefined });
  }
  return out;
}

/** One customer's onboarding: its customer workflow's history so far plus its children's (depth-first). */
export async function onboardingCounts(client: Client, externalId: string): Promise<HistoryCounts> {
  let total = { ...ZERO };
  const queue: Array<{ workflowId: string; runId?: string }> = [
    { workflowId: customerWorkflowId(externalId) },
  ];
  while (queue.length) {
    const { workflowId, runId } = queue.shift()!;
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    total = addCounts(total, countEvents(events));
    queue.push(...children(events));
  }
  return total;
}

/** Mean counts per onboarding over a sample of customers (evenly spread over the run). */
export async function sampleCounts(
  client: Client,
  externalIds: string[],
  sample: number,
): Promise<{ sampled: number; perOnboarding: Record<keyof HistoryCounts, number> } | null> {
  const n = Math.min(sample, externalIds.length);
  if (n === 0) return null;
  const picked = Array.from({ length: n }, (_, i) => externalIds[Math.floor((i * externalIds.length) / n)]!);
  let total = { ...ZERO };
  for (const id of picked) total = addCounts(total, await onboardingCounts(client, id));
  return {
    sampled: n,
    perOnboarding: Object.fromEntries(
      Object.entries(total).map(([k, v]) => [k, Math.round((v / n) * 100) / 100]),
    ) as Record<keyof HistoryCounts, number>,
  };
}
