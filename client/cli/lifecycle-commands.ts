import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { LIFECYCLE_STATES, type CustomerStatus, type LifecycleState } from '../../common/lifecycle-messages';
import type { OnboardingStatus } from '../../common/onboarding-messages';
import { InvalidInputError } from '../errors';
import { listCustomersPage, MAX_PAGE_SIZE, type CustomerListing } from '../list-customers';
import type { OnboardingClient } from '../onboarding-client';
import { reactivateAndWait } from '../reactivate-wait';
import { JSON_OPTION, type OptionSpecs, type OptionValues } from './args';

const REASON = {
  reason: {
    type: 'string',
    value: 'TEXT',
    description: 'why (shown in the transitions; default "<command> from the CLI")',
  },
} as const;
const EVENT_ID = {
  'event-id': {
    type: 'string',
    value: 'ID',
    description: "the CRM event's id: a repeat of the same id is a no-op (default: a new one)",
  },
} as const;
const WAIT = {
  wait: { type: 'boolean', description: 'apply the request and print the resulting state' },
} as const;

export const LIFECYCLE_OPTIONS = {
  pause: {
    ...REASON,
    until: { type: 'string', value: 'ISO', description: 'resume by itself at this time' },
    ...EVENT_ID,
    ...WAIT,
    ...JSON_OPTION,
  },
  resume: { ...REASON, ...EVENT_ID, ...WAIT, ...JSON_OPTION },
  churn: {
    ...REASON,
    'effective-at': {
      type: 'string',
      value: 'ISO',
      description: 'offboard at this time (reactivate cancels it until then)',
    },
    drain: {
      type: 'boolean',
      description: 'suspend first and wait until the reserved credits are back, then archive',
    },
    ...EVENT_ID,
    ...WAIT,
    ...JSON_OPTION,
  },
  reactivate: {
    ...REASON,
    ...EVENT_ID,
    wait: {
      type: 'boolean',
      description: 'wait until the scheduled offboarding is cancelled and print the state',
    },
    ...JSON_OPTION,
  },
} as const satisfies Record<string, OptionSpecs>;

export const LIFECYCLE_DESCRIPTIONS: Record<LifecycleCommand, string> = {
  pause:
    "suspend the customer's child org (signal-with-start: reaches the customer whether or not its workflow runs)",
  resume: 'lift a pause',
  churn: 'offboard the customer: archive its org, return its credits, revoke its keys',
  reactivate: 'cancel a churn whose --effective-at has not come yet',
};

export type LifecycleCommand = keyof typeof LIFECYCLE_OPTIONS;
type AnyLifecycleValues = OptionValues<(typeof LIFECYCLE_OPTIONS)['churn']> &
  OptionValues<(typeof LIFECYCLE_OPTIONS)['pause']>;

export async function lifecycleCommand(
  command: LifecycleCommand,
  externalId: string,
  values: AnyLifecycleValues,
  client: () => Promise<OnboardingClient>,
): Promise<number> {
  const eventId = values['event-id'] ?? `cli-${randomUUID()}`;
  const reason = values.reason ?? `${command} from the CLI`;
  const crm = await client();
  let status: CustomerStatus | undefined;
  switch (command) {
    case 'pause': {
      const request = { reason, eventId, ...(values.until !== undefined ? { until: values.until } : {}) };
      status = values.wait
        ? await crm.pauseAndWait(externalId, request)
        : (await crm.pause(externalId, request), undefined);
      break;
    }
    case 'resume': {
      const request = { reason, eventId };
      status = values.wait
        ? await crm.resumeAndWait(externalId, request)
        : (await crm.resume(externalId, request), undefined);
      break;
    }
    case 'churn': {
      const request = {
        reason,
        eventId,
        ...(values['effective-at'] !== undefined ? { effectiveAt: values['effective-at'] } : {}),
        ...(values.drain ? { drain: true } : {}),
      };
      status = values.wait
        ? await crm.churnAndWait(externalId, request)
        : (await crm.churn(externalId, request), undefined);
      break;
    }
    case 'reactivate':
      status = values.wait
        ? await reactivateAndWait(crm, externalId, { reason, eventId })
        : (await crm.reactivate(externalId, { reason, eventId }), undefined);
      break;
  }
  if (values.json) console.log(JSON.stringify(status ?? { externalId, sent: command, eventId }, null, 2));
  else if (status) printCustomer(status);
  else console.log(`Sent ${command} to ${externalId} (event ${eventId})`);
  return 0;
}

export async function statusCommand(
  externalId: string,
  values: { json?: boolean },
  client: () => Promise<OnboardingClient>,
): Promise<number> {
  const crm = await client();
  const customer = await crm.customerStatus(externalId).catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  });
  // An adopted customer has no onboarding of its own; an older one may have only an onboarding.
  const onboarding = await crm.onboardingStatusIfAny(externalId);
  if (!customer && !onboarding)
    throw new WorkflowNotFoundError(
      `no customer or onboarding workflow for ${externalId}`,
      `customer/${externalId}`,
      undefined,
    );
  if (values.json) console.log(JSON.stringify({ customer, onboarding }, null, 2));
  else {
    if (customer) printCustomer(customer);
    if (onboarding) printOnboarding(onboarding);
  }
  return customer?.state === 'failed' || (!customer && onboarding?.state === 'failed') ? 1 : 0;
}

export const LIST_OPTIONS = {
  state: {
    type: 'string',
    value: 'STATE',
    description: `only customers in this state (${LIFECYCLE_STATES.join('|')})`,
  },
  limit: {
    type: 'string',
    value: 'N',
    description: `one page of at most N customers (1-${MAX_PAGE_SIZE}), with a cursor to the next`,
  },
  cursor: {
    type: 'string',
    value: 'CURSOR',
    description: 'the page after the one that printed this cursor (same --state)',
  },
  ...JSON_OPTION,
} as const satisfies OptionSpecs;

export async function listCommand(
  values: OptionValues<typeof LIST_OPTIONS>,
  client: () => Promise<OnboardingClient>,
): Promise<number> {
  if (values.state !== undefined && !(LIFECYCLE_STATES as readonly string[]).includes(values.state)) {
    throw new InvalidInputError([
      `--state: must be one of ${LIFECYCLE_STATES.join(', ')} (got "${values.state}")`,
    ]);
  }
  const state = values.state as LifecycleState | undefined;
  if (values.limit === undefined && values.cursor === undefined) {
    // Everything at once: the shape `list --json` always had (an array).
    const customers = await (await client()).list(state ? { state } : {});
    if (values.json) console.log(JSON.stringify(customers, null, 2));
    else printListing(customers, state);
    return 0;
  }
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new InvalidInputError([
      `--limit: must be a whole number from 1 to ${MAX_PAGE_SIZE} (got "${values.limit}")`,
    ]);
  }
  if (values.cursor !== undefined && !/^[A-Za-z0-9_-]+$/.test(values.cursor)) {
    throw new InvalidInputError(['--cursor: must be the nextCursor printed by an earlier page']);
  }
  const page = await listCustomersPage((await client()).client, { state, limit, cursor: values.cursor });
  if (values.json)
    console.log(JSON.stringify({ customers: page.customers, nextCursor: page.nextCursor ?? null }, null, 2));
  else {
    printListing(page.customers, state);
    if (page.nextCursor) console.log(`next page: --cursor ${page.nextCursor}`);
  }
  return 0;
}

function printListing(customers: CustomerListing[], state: LifecycleState | undefined): void {
  for (const c of customers)
    console.log(
      `${c.externalId.padEnd(32)} ${(c.state ?? '?').padEnd(12)} ${(c.orgId ?? '-').padEnd(40)} ${c.workflowStatus}`,
    );
  console.log(`${customers.length} customer${customers.length === 1 ? '' : 's'}${state ? ` ${state}` : ''}`);
}

export function printCustomer(status: CustomerStatus): void {
  console.log(
    `${status.externalId}: ${status.state}${status.orgId ? ` (org ${status.orgId}${status.orgSuspended ? ', suspended' : ''})` : ''}`,
  );
  if (status.pausedUntil) console.log(`  paused until ${status.pausedUntil}`);
  if (status.offboardingAt) console.log(`  offboarding at ${status.offboardingAt}`);
  if (status.churnPending) console.log('  churn waiting for onboarding to reach a safe point');
  if (status.offboarding) {
    const o = status.offboarding;
    console.log(
      `  archived ${o.archivedAt}: ${o.reclaimedCredits} credits reclaimed, ${o.revokedApiKeys} key(s) revoked`,
    );
  }
  for (const t of status.transitions)
    console.log(`  ${t.at}  ${t.from} → ${t.to}  ${t.reason}${t.eventId ? ` [${t.eventId}]` : ''}`);
  for (const r of status.refused)
    console.log(`  refused ${r.kind}${r.eventId ? ` [${r.eventId}]` : ''}: ${r.why}`);
  if (status.error) console.log(`  error: ${status.error}`);
}

export function printOnboarding(status: OnboardingStatus): void {
  console.log(
    `onboarding: ${status.waitingFor ?? status.state}${status.orgId ? ` (org ${status.orgId})` : ''}`,
  );
  for (const step of status.steps)
    console.log(`  ${step.state.padEnd(8)} ${step.name}${step.detail ? `  ${step.detail}` : ''}`);
  if (status.error) console.log(`  error: ${status.error}`);
}
