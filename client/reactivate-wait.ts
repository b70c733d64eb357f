import type { CustomerStatus, ReactivateRequest } from '../common/lifecycle-messages';
import type { OnboardingClient } from './onboarding-client';

/** The customer workflow refused a request (recorded under `refused`), or it came too late. */
export class RequestRefusedError extends Error {
  override name = 'RequestRefusedError';
  constructor(
    readonly kind: string,
    readonly why: string,
    readonly status: CustomerStatus,
  ) {
    super(`${kind} refused: ${why}`);
  }
}

/**
 * `reactivate` is a signal (the customer workflow has no reactivate update), so waiting for it means
 * watching the customer's status: a query after the signal already sees a refusal (it is recorded in the
 * signal handler), otherwise the scheduled offboarding is cancelled and the customer leaves `offboarding`.
 */
export async function reactivateAndWait(
  crm: OnboardingClient,
  externalId: string,
  request: ReactivateRequest,
  { timeoutMs = 60_000 }: { timeoutMs?: number } = {},
): Promise<CustomerStatus> {
  await crm.reactivate(externalId, request);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const status = await crm.customerStatus(externalId);
    const refusal = status.refused.find((r) => r.kind === 'reactivate' && r.eventId === request.eventId);
    if (refusal) throw new RequestRefusedError('reactivate', refusal.why, status);
    if (status.state === 'archived')
      throw new RequestRefusedError('reactivate', 'the customer was archived first', status);
    if (status.state !== 'offboarding') return status;
    if (Date.now() > deadline) {
      throw new Error(
        `reactivate: ${externalId} is still offboarding after ${Math.round(timeoutMs / 1000)} s (sent as event ${request.eventId})`,
      );
    }
    // The offboarding child ends within a workflow task or two of the signal: look again soon, then back off.
    await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** attempt, 1_000)));
  }
}
