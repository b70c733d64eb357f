import { request } from 'undici';
import { signGatewayRequest } from '../../common/signature';

// Hands an attributed Layers event to the partner's CRM (`CRM_EVENTS_URL`), signed the way the gateway
// checks the CRM's own requests (X-Signature over "t.POST.path.body"), with the Layers event id as
// Idempotency-Key so the CRM can drop a repeat. The body is built from the event alone, so a retry
// sends the very same bytes.

export interface AttributedEvent {
  id: string;
  type: string;
  createdAt?: string;
  externalId: string;
  organizationId: string;
  data: Record<string, unknown>;
}

export interface CrmForwarder {
  forward(event: AttributedEvent): Promise<void>;
}

export class CrmForwardError extends Error {
  override name = 'CrmForwardError';
}

export class HttpCrmForwarder implements CrmForwarder {
  private readonly url: URL;

  constructor(
    url: string,
    private readonly signingSecret: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.url = new URL(url);
  }

  async forward(event: AttributedEvent): Promise<void> {
    const body = JSON.stringify({
      id: event.id,
      type: event.type,
      createdAt: event.createdAt,
      externalId: event.externalId,
      organizationId: event.organizationId,
      data: event.data,
    });
    const target = `${this.url.pathname}${this.url.search}`;
    let status: number;
    try {
      const res = await request(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': event.id,
          'x-signature': signGatewayRequest(this.signingSecret, 'POST', target, body),
          'user-agent': 'layers-onboarding-gateway',
        },
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      throw new CrmForwardError(`CRM unreachable: ${(err as Error).message}`);
    }
    if (status < 200 || status >= 300) throw new CrmForwardError(`CRM answered ${status}`);
  }
}
