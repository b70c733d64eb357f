import { ApplicationFailure, Context } from '@temporalio/activity';
import { request } from 'undici';
import type { LifecycleEvent } from '../common/lifecycle-events';
import { signGatewayRequest } from '../common/signature';

// Posts one lifecycle event of a customer to the partner's CRM (`CRM_EVENTS_URL`), signed with the same
// `X-Signature` the gateway's forwarded firehose carries, the event id as Idempotency-Key. Every failure
// is retryable: the workflow retries with a capped backoff for as long as it takes, and the body is the
// workflow's (a retry sends the same bytes with a fresh signature timestamp).

export interface CrmEventsConfig {
  url: string;
  signingSecret: string;
  timeoutMs?: number;
}

export interface CrmEventActivityDeps {
  /** Absent: CRM events are off; crmEventsEnabled answers false and the workflow schedules none. */
  crmEvents?: CrmEventsConfig;
}

export function createCrmEventActivities({ crmEvents }: CrmEventActivityDeps) {
  return {
    /** A local activity the customer workflow asks once per run: post events at all? */
    async crmEventsEnabled(): Promise<boolean> {
      return crmEvents !== undefined;
    },

    async publishLifecycleEvent(event: LifecycleEvent): Promise<{ status: number } | undefined> {
      if (!crmEvents) return undefined;
      const url = new URL(crmEvents.url);
      const target = `${url.pathname}${url.search}`;
      const body = JSON.stringify(event);
      const timeoutMs = crmEvents.timeoutMs ?? 10_000;
      let status: number;
      try {
        const res = await request(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': event.id,
            'x-signature': signGatewayRequest(crmEvents.signingSecret, 'POST', target, body),
            'user-agent': 'layers-onboarding-worker',
          },
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: Context.current().cancellationSignal,
        });
        status = res.statusCode;
        await res.body.dump();
      } catch (err) {
        throw ApplicationFailure.retryable(
          `CRM unreachable: ${(err as Error).message}`,
          'CrmEventDeliveryFailed',
        );
      }
      if (status < 200 || status >= 300)
        throw ApplicationFailure.retryable(`CRM answered ${status}`, 'CrmEventDeliveryFailed');
      return { status };
    },
  };
}
