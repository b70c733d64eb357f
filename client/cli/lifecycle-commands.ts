import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { LIFECYCLE_STATES, type CustomerStatus, type LifecycleState } from '../../common/lifecycle-messages';
import type { OnboardingStatus } from '../../common/onboarding-messages';
import { InvalidInputError } from '../errors';
import type { OnboardingClient } from '../onboarding-client';
import { UsageError, parseCommandArgs } from './args';

export const LIFECYCLE_USAGE = `  pause <externalId> [--reason TEXT] [--until ISO] [--event-id ID] [--wait] [--json]
  resume <externalId> [--reason TEXT] [--event-id ID] [--wait] [--json]
  churn <externalId> [--reason TEXT] [--effective-at ISO] [--drain] [--event-id ID] [--wait] [--json]
  reactivate <externalId> [--reason TEXT] [--event-id ID]
                               cancel a churn whose --effective-at has not come yet
  status <externalId> [--json] the customer's lifecycle state, transitions and onboarding steps
  list [--state ${LIFECYCLE_STATES.join('|')}] [--json]
                               customers by state (Temporal visibility)
  pause, resume and churn reach the customer's workflow whether or not it runs (signal-with-start);
  --wait applies the request and prints the resulting state; --event-id (default: a new one) makes
  a repeat of the same CRM event a no-op.`;

const REQUEST_OPTIONS = {
  reason: { type: 'string' },
  'event-id': { type: 'string' },
  until: { type: 'string' },
  'effective-at': { type: 'string' },
  drain: { type: 'boolean' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

const ALLOWED: Record<'pause' | 'resume' | 'churn' | 'reactivate', Array<keyof typeof REQUEST_OPTIONS>> = {
  pause: ['reason', 'event-id', 'until', 'wait', 'json'],
  resume: ['reason', 'event-id', 'wait', 'json'],
  churn: ['reason', 'event-id', 'effective-at', 'drain', 'wait', 'json'],
  reactivate: ['reason', 'event-id', 'json'],
};

export type LifecycleCommand = keyof typeof ALLOWED;

export async function lifecycleCommand(command: LifecycleCommand, argv: string[], client: () => Promise<OnboardingClient>): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, REQUEST_OPTIONS);
  if (positionals.length !== 1) throw new UsageError(`${command}: expects exactly one <externalId>`);
  for (const flag of Object.keys(values) as Array<keyof typeof REQUEST_OPTIONS>) {
    if (!ALLOWED[command].includes(flag)) throw new UsageError(`${command}: --${flag} does not apply (only ${ALLOWED[command].map((f) => `--${f}`).join(', ')})`);
  }
  const externalId = positionals[0]!;
  const eventId = values['event-id'] ?? `cli-${randomUUID()}`;
  const reason = values.reason ?? `${command} from the CLI`;
  const crm = await client();
  let status: CustomerStatus | undefined;
  switch (command) {
    case 'pause': {
      const request = { reason, eventId, ...(values.until !== undefined ? { until: values.until } : {}) };
      status = values.wait ? await crm.pauseAndWait(externalId, request) : (await crm.pause(externalId, request), undefined);
      break;
    }
    case 'resume': {
      const request = { reason, eventId };
      status = values.wait ? await crm.resumeAndWait(externalId, request) : (await crm.resume(externalId, request), undefined);
      break;
    }
    case 'churn': {
      const request = {
        reason,
        eventId,
        ...(values['effective-at'] !== undefined ? { effectiveAt: values['effective-at'] } : {}),
        ...(values.drain ? { drain: true } : {}),
      };
      status = values.wait ? await crm.churnAndWait(externalId, request) : (await crm.churn(externalId, request), undefined);
      break;
    }
    case 'reactivate':
      await crm.reactivate(externalId, { reason, eventId });
      break;
  }
  if (values.json) console.log(JSON.stringify(status ?? { externalId, sent: command, eventId }, null, 2));
  else if (status) printCustomer(status);
  else console.log(`Sent ${command} to ${externalId} (event ${eventId})`);
  return 0;
}

export async function statusCommand(argv: string[], client: () => Promise<OnboardingClient>): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } } as const);
  if (positionals.length !== 1) throw new UsageError('status: expects exactly one <externalId>');
  const externalId = positionals[0]!;
  const crm = await client();
  const customer = await crm.customerStatus(externalId).catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  });
  // An adopted customer has no onboarding of its own; an older one may have only an onboarding.
  const onboarding = await crm.onboardingStatusIfAny(externalId);
  if (!customer && !onboarding) throw new WorkflowNotFoundError(`no customer or onboarding workflow for ${externalId}`, `customer/${externalId}`, undefined);
  if (values.json) console.log(JSON.stringify({ customer, onboarding }, null, 2));
  else {
    if (customer) printCustomer(customer);
    if (onboarding) printOnboarding(onboarding);
  }
  return customer?.state === 'failed' || (!customer && onboarding?.state === 'failed') ? 1 : 0;
}

export async function listCommand(argv: string[], client: () => Promise<OnboardingClient>): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { state: { type: 'string' }, json: { type: 'boolean' } } as const);
  if (positionals.length) throw new UsageError(`list: unexpected argument "${positionals[0]}"`);
  if (values.state !== undefined && !(LIFECYCLE_STATES as readonly string[]).includes(values.state)) {
    throw new InvalidInputError([`--state: must be one of ${LIFECYCLE_STATES.join(', ')} (got "${values.state}")`]);
  }
  const customers = await (await client()).list(values.state ? { state: values.state as LifecycleState } : {});
  if (values.json) console.log(JSON.stringify(customers, null, 2));
  else {
    for (const c of customers) console.log(`${c.externalId.padEnd(32)} ${(c.state ?? '?').padEnd(12)} ${(c.orgId ?? '-').padEnd(40)} ${c.workflowStatus}`);
    console.log(`${customers.length} customer${customers.length === 1 ? '' : 's'}${values.state ? ` ${values.state}` : ''}`);
  }
  return 0;
}

export function printCustomer(status: CustomerStatus): void {
  console.log(`${status.externalId}: ${status.state}${status.orgId ? ` (org ${status.orgId}${status.orgSuspended ? ', suspended' : ''})` : ''}`);
  if (status.pausedUntil) console.log(`  paused until ${status.pausedUntil}`);
  if (status.offboardingAt) console.log(`  offboarding at ${status.offboardingAt}`);
  if (status.churnPending) console.log('  churn waiting for onboarding to reach a safe point');
  if (status.offboarding) {
    const o = status.offboarding;
    console.log(`  archived ${o.archivedAt}: ${o.reclaimedCredits} credits reclaimed, ${o.revokedApiKeys} key(s) revoked`);
  }
  for (const t of status.transitions) console.log(`  ${t.at}  ${t.from} → ${t.to}  ${t.reason}${t.eventId ? ` [${t.eventId}]` : ''}`);
  for (const r of status.refused) console.log(`  refused ${r.kind}${r.eventId ? ` [${r.eventId}]` : ''}: ${r.why}`);
  if (status.error) console.log(`  error: ${status.error}`);
}

export function printOnboarding(status: OnboardingStatus): void {
  console.log(`onboarding: ${status.waitingFor ?? status.state}${status.orgId ? ` (org ${status.orgId})` : ''}`);
  for (const step of status.steps) console.log(`  ${step.state.padEnd(8)} ${step.name}${step.detail ? `  ${step.detail}` : ''}`);
  if (status.error) console.log(`  error: ${status.error}`);
}
