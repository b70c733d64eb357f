import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSecret {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  signatureValid: boolean;
  timestamp: number;
  status: number;
}

/**
 * A partner endpoint for HttpSecretSink tests: verifies the signature the way a partner should
 * (`t=…,v1=…`, HMAC-SHA256 over `${t}.${body}`, 5-minute tolerance), answers with scripted statuses,
 * and stores each secret once per Idempotency-Key.
 */
export async function startSinkReceiver(signingKey: string, script: number[] = []) {
  const received: ReceivedSecret[] = [];
  const stored = new Map<string, string>();
  const statuses = [...script];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = String(req.headers['x-layers-orchestrator-signature'] ?? '');
      const t = Number(/(?:^|,)t=(\d+)/.exec(header)?.[1]);
      const v1 = /(?:^|,)v1=([0-9a-f]{64})/.exec(header)?.[1] ?? '';
      const expected = createHmac('sha256', signingKey).update(`${t}.${body}`).digest('hex');
      const signatureValid =
        Number.isFinite(t) &&
        Math.abs(Date.now() / 1000 - t) < 300 &&
        v1.length === 64 &&
        timingSafeEqual(Buffer.from(v1), Buffer.from(expected));
      let status = statuses.length ? statuses.shift()! : 200;
      if (!signatureValid) status = 401;
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        status = 400;
      }
      received.push({ headers: req.headers, body, json, signatureValid, timestamp: t, status });
      if (status >= 200 && status < 300) {
        const key = String(req.headers['idempotency-key']);
        if (!stored.has(key)) stored.set(key, String(json.secret));
      }
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ok: status < 300 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/layers/secrets`,
    received,
    stored,
    /** Append statuses to answer with (then 200s). */
    script: (...more: number[]) => statuses.push(...more),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
