import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LayersApiError, LayersClient } from '../../activities/layers';
import type { CustomerStatus, CustomerWorkflowTiming } from '../../common/lifecycle-messages';
import type { OnboardingResult } from '../../common/onboarding-messages';
import { childrenOf, type EmulatorState } from '../helpers/emulator';
import { acmeCoffee, fastTiming, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { eventually } from '../helpers/temporal';

/** Short timers so a drain or a kill-switch wait takes moments in a test. */
export const fastLifecycle: CustomerWorkflowTiming = {
  killSwitchBackoffMs: { initial: 200, max: 1_000 },
  drainPollMs: 200,
  drainTimeoutMs: 60_000,
};

let events = 0;
/** A CRM event id, unique per call. */
export const eventId = (label = 'evt') => `${label}-${Date.now().toString(36)}-${(events++).toString(36)}`;

/** Onboards Acme Coffee through the customer workflow and waits for the customer to be active. */
export async function onboarded(
  env: OnboardingTestEnv,
  externalId?: string,
): Promise<{ externalId: string; result: OnboardingResult }> {
  const request = acmeCoffee(externalId);
  await env.crm.start(request, { timing: fastTiming, lifecycle: fastLifecycle });
  const result = await env.crm.result(request.customer.externalId);
  await untilState(env, request.customer.externalId, 'active');
  return { externalId: request.customer.externalId, result };
}

/** Waits for the customer workflow to report `state` (it applies requests asynchronously). */
export async function untilState(
  env: OnboardingTestEnv,
  externalId: string,
  state: CustomerStatus['state'],
  timeoutMs = 30_000,
) {
  return eventually(
    async () => {
      const status = await env.crm.customerStatus(externalId);
      return status.state === state ? status : undefined;
    },
    { timeoutMs },
  );
}

export function orgsOf(state: EmulatorState, externalId: string) {
  return childrenOf(state).filter((o) => o.metadata?.externalId === externalId);
}

export function walletOf(state: EmulatorState, orgId: string) {
  return state.wallets.find((w) => w.organizationId === orgId)!;
}

/** The secret onboarding put in the file sink, to act as the customer itself. */
export function childSecret(env: OnboardingTestEnv, result: OnboardingResult): string {
  return JSON.parse(readFileSync(path.join(env.secretsDir, `api-key-${result.apiKey.id}.json`), 'utf8'))
    .secret as string;
}

/** What the customer's own key gets on an ordinary call (whoami answers even while suspended): 'ok' or the error code. */
export async function asCustomer(env: OnboardingTestEnv, result: OnboardingResult): Promise<string> {
  const client = new LayersClient({ baseUrl: env.emulator.url, apiKey: childSecret(env, result) });
  try {
    await client.listWebhookEndpoints();
    return 'ok';
  } catch (err) {
    if (err instanceof LayersApiError) return err.code;
    throw err;
  } finally {
    await client.close();
  }
}

export const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();
