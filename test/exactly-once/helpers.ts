import { WorkflowNotFoundError } from '@temporalio/client';
import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';
import type { OnboardingRequest } from '../../common/onboarding-input';
import { childrenOf, type EmulatorState } from '../helpers/emulator';
import type { OnboardingTestEnv } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';

export const DAY_AND_AN_HOUR_MS = 25 * 60 * 60 * 1000;
export const CREDIT_CONFIG = '/v1/organizations/:orgId/credit-config';

/** Credit-config answers a 422 once per key: the onboarding fails after the org, the key and the transfer exist. */
export async function failAtCreditConfig(env: OnboardingTestEnv): Promise<void> {
  await env.control.faults({
    seed: 1,
    rules: [
      {
        method: 'PATCH',
        path: CREDIT_CONFIG,
        respondWith: { code: 'VALIDATION', message: 'monthlyCreditCap: refused by the test' },
      },
    ],
  });
}

/** Starts a customer whose onboarding fails at credit-config, and waits until its workflows are closed. */
export async function firstRunFailsAfterMoneyMoved(
  env: OnboardingTestEnv,
  request: OnboardingRequest,
): Promise<void> {
  const externalId = request.customer.externalId;
  await failAtCreditConfig(env);
  try {
    await env.crm.start(request, { timing: { retryMaxIntervalMs: 1000 } });
    const err = await env.crm.result(externalId).catch((e: unknown) => e);
    expect(String(((err as Error).cause as Error | undefined)?.message ?? err)).toMatch(
      /credit-config|refused by the test/,
    );
    await closed(env, customerWorkflowId(externalId));
  } finally {
    await env.control.clearFaults();
  }
}

export async function closed(env: OnboardingTestEnv, workflowId: string): Promise<void> {
  await eventually(
    async () =>
      (await env.temporal.client.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING',
    {
      timeoutMs: 60_000,
    },
  );
}

/** The earlier run is gone from Temporal (retention passed): delete the customer's executions. */
export async function forgetInTemporal(env: OnboardingTestEnv, externalId: string): Promise<void> {
  for (const workflowId of [customerWorkflowId(externalId), onboardingWorkflowId(externalId)]) {
    await env.temporal.connection.workflowService.deleteWorkflowExecution({
      namespace: env.temporal.namespace,
      workflowExecution: { workflowId },
    });
    await eventually(
      async () => {
        try {
          await env.temporal.client.workflow.getHandle(workflowId).describe();
          return false;
        } catch (err) {
          return err instanceof WorkflowNotFoundError;
        }
      },
      { timeoutMs: 60_000 },
    );
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** Everything Layers holds for one customer, as the assertions of "exactly once" need it. */
export function customerInLayers(state: EmulatorState, externalId: string) {
  const orgs = childrenOf(state).filter((o) => o.metadata?.externalId === externalId);
  const orgIds = new Set(orgs.map((o) => o.id));
  const allocations = state.transfers.filter(
    (t) => orgIds.has(t.toOrganizationId) && t.trigger === 'allocate',
  );
  const childLedger = state.ledger.filter(
    (e: any) => orgIds.has(e.organizationId) && e.eventType === 'allocation',
  );
  const transferIds = new Set(allocations.map((t) => t.id));
  const parentLedger = state.ledger.filter(
    (e: any) =>
      e.organizationId === state.parentOrganizationId &&
      e.eventType === 'allocation' &&
      transferIds.has(e.metadata?.transferId),
  );
  const keys = state.apiKeys.filter((k: any) => orgIds.has(k.organizationId));
  const liveKeys = keys.filter((k: any) => k.status === 'active' && !k.supersededBy && !k.revokedAt);
  const projects = state.projects.filter((p: any) => orgIds.has(p.organizationId));
  return { orgs, allocations, childLedger, parentLedger, keys, liveKeys, projects };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export function requestsTo(state: EmulatorState, routeKey: string): number {
  return Object.values(state.requests.byRoute[routeKey] ?? {}).reduce((sum, n) => sum + n, 0);
}
