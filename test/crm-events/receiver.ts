import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LifecycleEvent } from '../../common/lifecycle-events';
import { gatewaySignedPayload, verifySignature } from '../../gateway/signature';

/** One POST as the test CRM saw it. */
export interface Delivery {
  id: string;
  status: number;
  body: string;
  idempotencyKey?: string;
}

/**
 * A CRM endpoint as a partner would write one: checks `X-Signature` with the gateway's own verifier,
 * keeps each event id once (a repeat is acknowledged, not taken as new), and can answer 500 to chosen
 * attempts to make the sender retry.
 */
export async function startCrmReceiver(secret: string, path = '/crm/lifecycle-events') {
  const deliveries: Delivery[] = [];
  const accepted = new Map<string, LifecycleEvent>();
  const order: LifecycleEvent[] = [];
  let failNext: ((event: LifecycleEvent) => boolean) | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const answer = (status: number) => {
        deliveries.push({
          id: String((safeJson(raw) as { id?: string } | undefined)?.id),
          status,
          body: raw.toString('utf8'),
          idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        });
        res.writeHead(status).end();
      };
      const check = verifySignature(req.headers['x-signature'] as string | undefined, [secret], (t) =>
        gatewaySignedPayload(t, req.method ?? '', req.url ?? '', raw),
      );
      if (req.method !== 'POST' || req.url !== path || !check.ok) return answer(401);
      const event = safeJson(raw) as LifecycleEvent | undefined;
      if (!event?.id) return answer(400);
      if (failNext?.(event)) {
        failNext = undefined;
        return answer(500);
      }
      if (!accepted.has(event.id)) {
        accepted.set(event.id, event);
        order.push(event);
      }
      answer(204);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    deliveries,
    /** Events taken as new, in the order they first arrived. */
    order,
    /** The next attempt whose event matches answers 500 (once). */
    failOnce(match: (event: LifecycleEvent) => boolean) {
      failNext = match;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
