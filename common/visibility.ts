import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { Client } from '@temporalio/client';

// Reading workflow executions as visibility lists them (listWorkflowExecutions): the raw status number and
// the search attributes' payloads. Shared by the reconcile scan and the client's customer listing.

/** temporal.api.enums.v1.WorkflowExecutionStatus, named as the SDK's WorkflowExecutionInfo names them. */
export const WORKFLOW_STATUS_NAMES: readonly string[] = [
  'UNSPECIFIED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
];

export const CONTINUED_AS_NEW_STATUS = WORKFLOW_STATUS_NAMES.indexOf('CONTINUED_AS_NEW');

/** A keyword (or the first of a keyword list) search attribute, or undefined when unset or not a string. */
export function keywordAttribute(
  fields: Record<string, Payload> | null | undefined,
  name: string,
): string | undefined {
  const payload = fields?.[name];
  if (!payload) return undefined;
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** Visibility's own page limit. */
export const VISIBILITY_PAGE_SIZE = 1_000;

type ListResponse = Awaited<ReturnType<Client['workflowService']['listWorkflowExecutions']>>;

export interface ExecutionsPage {
  executions: ListResponse['executions'];
  /** The token of the next page; absent on the last one (visibility answers an empty token there). */
  nextPageToken?: Uint8Array;
}

/** One page of the namespace's workflow executions matching a visibility query. */
export async function listExecutionsPage(
  client: Client,
  query: string,
  pageSize: number,
  pageToken?: Uint8Array,
): Promise<ExecutionsPage> {
  const response = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query,
    pageSize,
    nextPageToken: pageToken,
  });
  const next = response.nextPageToken;
  return { executions: response.executions, ...(next?.length ? { nextPageToken: next } : {}) };
}
