import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { OnboardingClient } from '../../client/onboarding-client';
import { CustomerService } from '../../gateway/customers';
import { VisibilityAttribution } from '../../gateway/firehose/attribution';
import { HttpCrmForwarder } from '../../gateway/firehose/crm-forwarder';
import { FileSinkFirehoseSecrets } from '../../gateway/firehose/secrets';
import { buildGateway } from '../../gateway/server';
import { signGatewayRequest, verifySignature, gatewaySignedPayload } from '../../gateway/signature';
import type { ActivityDeps } from '../../activities';
import { FileSecretSink } from '../../activities/secret-sink';
import { startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';
import { createTestWorker } from '../helpers/temporal';
import { recordTestSecrets } from '../helpers/secret-registry';

export const CRM_SECRET = 'crm-signing-secret-0123456789abcdef';
export const OLD_CRM_SECRET = 'crm-previous-secret-0123456789abcdef';
export const CRM_TOKEN = 'crm-bearer-token-0123456789abcdef';
export const EVENTS_SECRET = 'crm-events-secret-0123456789abcdef';

export interface CrmDelivery {
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  status: number;
  signatureValid: boolean;
}

/** The partner's CRM: records every delivery, verifies its signature, can be told to fail the next N. */
export async function startTestCrm() {
  const deliveries: CrmDelivery[] = [];
  let failNext = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const status = failNext > 0 ? (failNext--, 500) : 200;
      const check = verifySignature(String(req.headers['x-signature'] ?? ''), [EVENTS_SECRET], (t) =>
        gatewaySignedPayload(t, req.method!, req.url!, raw),
      );
      deliveries.push({
        headers: req.headers,
        body: JSON.parse(raw.toString('utf8')) as Record<string, unknown>,
        status,
        signatureValid: check.ok,
      });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/crm/layers-events?source=gateway`;
  return {
    url,
    deliveries,
    failNext(n: number) {
      failNext = n;
    },
    /** Deliveries the CRM accepted, one per Idempotency-Key (what a CRM that dedupes would keep). */
    accepted() {
      const byKey = new Map<string, CrmDelivery>();
      for (const d of deliveries)
        if (d.status === 200 && !byKey.has(String(d.headers['idempotency-key'])))
          byKey.set(String(d.headers['idempotency-key']), d);
      return [...byKey.values()];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface GatewayTestEnv {
  env: OnboardingTestEnv;
  gateway: FastifyInstance;
  url: string;
  crm: Awaited<ReturnType<typeof startTestCrm>>;
  /** A request as the CRM sends it: signed with CRM_SECRET unless told otherwise. */
  call(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      rawBody?: string;
      key?: string;
      prefer?: string;
      secret?: string;
      signAt?: number;
      signature?: string;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startGatewayTestEnv(
  options: {
    /**
     * The partner firehose points at this gateway: the worker's `LAYERS_FIREHOSE_URL` becomes
     * `<gateway>/layers/webhooks` with these `LAYERS_FIREHOSE_EVENTS` (as scripts/demo.ts wires it).
     * Unset: the worker keeps the helpers' default partner URL, which nothing receives.
     */
    firehoseEvents?: string[];
    /** Extra activity dependencies (e.g. a host resolver for customer webhook URLs). */
    deps?: Partial<ActivityDeps>;
  } = {},
): Promise<GatewayTestEnv> {
  const onboarding = await startOnboardingTestEnv({
    emulator: { webhookRetryBaseMs: 100, webhookMaxAttempts: 8 },
    deps: options.deps,
  });
  const crm = await startTestCrm();
  recordTestSecrets({ secrets: [CRM_SECRET, OLD_CRM_SECRET, CRM_TOKEN, EVENTS_SECRET] });
  const service = new CustomerService(
    new OnboardingClient(onboarding.temporal.client, onboarding.taskQueue),
    {
      namespace: onboarding.temporal.namespace,
      temporalUiUrl: 'http://127.0.0.1:8233',
    },
  );
  const gateway = await buildGateway({
    credentials: { signingSecrets: [CRM_SECRET, OLD_CRM_SECRET], bearerTokens: [CRM_TOKEN] },
    service,
    bodyLimit: 16 * 1024,
    firehose: {
      secrets: new FileSinkFirehoseSecrets(onboarding.secretsDir),
      attribution: new VisibilityAttribution(onboarding.temporal.client),
      forwarder: new HttpCrmForwarder(crm.url, EVENTS_SECRET),
    },
  });
  const url = await gateway.listen({ port: 0, host: '127.0.0.1' });
  // The firehose URL is known only once the gateway listens, and the gateway needs the env's client:
  // so the workers this env runs are made here, with the partner firehose at the gateway.
  let env = onboarding;
  if (options.firehoseEvents) {
    const deps: ActivityDeps = {
      layers: onboarding.layers,
      secretSink: new FileSecretSink(onboarding.secretsDir),
      ...options.deps,
      firehose: { url: `${url}/layers/webhooks`, events: options.firehoseEvents },
      // The gateway listens on http://127.0.0.1, as the demo's does: local mode, as for the emulator.
      webhookUrlPolicy: { localMode: true, ...options.deps?.webhookUrlPolicy },
    };
    const newWorker = () => createTestWorker(onboarding.temporal, onboarding.taskQueue, deps);
    env = { ...onboarding, newWorker, run: async (fn) => (await newWorker()).runUntil(fn) };
  }
  return {
    env,
    gateway,
    url,
    crm,
    async call(method, path, options = {}) {
      const raw = options.rawBody ?? (options.body === undefined ? '' : JSON.stringify(options.body));
      const headers: Record<string, string> = { ...options.headers };
      if (raw) headers['content-type'] ??= 'application/json';
      if (options.key) headers['idempotency-key'] = options.key;
      if (options.prefer) headers.prefer = options.prefer;
      if (options.signature !== undefined) {
        if (options.signature) headers['x-signature'] = options.signature;
      } else if (!headers.authorization) {
        headers['x-signature'] = signGatewayRequest(
          options.secret ?? CRM_SECRET,
          method,
          path,
          raw,
          options.signAt,
        );
      }
      const res = await fetch(`${url}${path}`, { method, headers, body: raw || undefined });
      const text = await res.text();
      return {
        status: res.status,
        headers: res.headers,
        json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    },
    async close() {
      await gateway.close();
      await crm.close();
      await env.close();
    },
  };
}
