import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { LIFECYCLE_STATES, type LifecycleState } from '../common/lifecycle-messages';
import { LayersCustomerId, LayersLifecycleState, LayersOrgId } from '../common/search-attributes';
import { InvalidInputError } from './errors';

export interface CustomerListing {
  externalId: string;
  state?: string;
  orgId?: string;
  /** The customer workflow's Temporal status: RUNNING, COMPLETED (archived), FAILED, … */
  workflowStatus: string;
}

export interface CustomerPage {
  customers: CustomerListing[];
  /** Pass back as `cursor` for the next page; absent on the last one. */
  nextCursor?: string;
}

/** Visibility's own page limit. */
export const MAX_PAGE_SIZE = 1_000;

// temporal.api.enums.v1.WorkflowExecutionStatus, named as the SDK's WorkflowExecutionInfo names them.
const STATUS_NAMES = [
  'UNSPECIFIED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
];

function keyword(fields: Record<string, Payload> | null | undefined, name: string): string | undefined {
  const payload = fields?.[name];
  if (!payload) return undefined;
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/**
 * One page of customers by lifecycle state, from Temporal visibility (search attributes). The cursor is
 * visibility's own page token, base64url: opaque, valid only for the same `state` filter.
 */
export async function listCustomersPage(
  client: Client,
  options: { state?: LifecycleState; limit: number; cursor?: string },
): Promise<CustomerPage> {
  const { state, limit, cursor } = options;
  if (state !== undefined && !(LIFECYCLE_STATES as readonly string[]).includes(state)) {
    throw new InvalidInputError([`state: must be one of ${LIFECYCLE_STATES.join(', ')}`]);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new InvalidInputError([`limit: must be a whole number from 1 to ${MAX_PAGE_SIZE}`]);
  }
  if (cursor !== undefined && !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new InvalidInputError(['cursor: must be the nextCursor of an earlier page']);
  }
  const clauses = [`WorkflowType = 'customerLifecycle'`];
  if (state) clauses.push(`${LayersLifecycleState.name} = '${state}'`);
  let response;
  try {
    response = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: clauses.join(' AND '),
      pageSize: limit,
      nextPageToken: cursor ? Buffer.from(cursor, 'base64url') : undefined,
    });
  } catch (err) {
    // A token that is not one of the server's (or from another filter) is refused as INVALID_ARGUMENT.
    if (cursor && (err as { code?: number }).code === 3)
      throw new InvalidInputError([
        'cursor: not a cursor of this listing (it is tied to the --state it came from)',
      ]);
    throw err;
  }
  const customers = response.executions.map((raw): CustomerListing => {
    const fields = raw.searchAttributes?.indexedFields as Record<string, Payload> | null | undefined;
    const workflowId = raw.execution?.workflowId ?? '';
    return {
      externalId: keyword(fields, LayersCustomerId.name) ?? workflowId.replace(/^customer\//, ''),
      state: keyword(fields, LayersLifecycleState.name),
      orgId: keyword(fields, LayersOrgId.name),
      workflowStatus: STATUS_NAMES[raw.status ?? 0] ?? 'UNKNOWN',
    };
  });
  const token = response.nextPageToken;
  return {
    customers,
    ...(token && token.length ? { nextCursor: Buffer.from(token).toString('base64url') } : {}),
  };
}
