import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { LIFECYCLE_STATES, type LifecycleState } from '../common/lifecycle-messages';
import { LayersCustomerId, LayersLifecycleState, LayersOrgId } from '../common/search-attributes';
import {
  keywordAttribute,
  listExecutionsPage,
  VISIBILITY_PAGE_SIZE,
  WORKFLOW_STATUS_NAMES,
} from '../common/visibility';
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
export const MAX_PAGE_SIZE = VISIBILITY_PAGE_SIZE;

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
    response = await listExecutionsPage(
      client,
      clauses.join(' AND '),
      limit,
      cursor ? Buffer.from(cursor, 'base64url') : undefined,
    );
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
      externalId: keywordAttribute(fields, LayersCustomerId.name) ?? workflowId.replace(/^customer\//, ''),
      state: keywordAttribute(fields, LayersLifecycleState.name),
      orgId: keywordAttribute(fields, LayersOrgId.name),
      workflowStatus: WORKFLOW_STATUS_NAMES[raw.status ?? 0] ?? 'UNKNOWN',
    };
  });
  const token = response.nextPageToken;
  return { customers, ...(token ? { nextCursor: Buffer.from(token).toString('base64url') } : {}) };
}
