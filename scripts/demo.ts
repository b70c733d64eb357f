// `npm run demo`: the whole product on one machine. Starts the Temporal dev server, the Layers emulator, a
// worker and the CRM gateway (state under .data/, or --data-dir), onboards Acme Coffee through the gateway as
// a CRM would (a signed POST), then has Layers emit an event for the new child org and shows the CRM
// receiving it, attributed to the customer.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { LayersClient } from '../activities/layers';
import { FileSecretSink } from '../activities/secret-sink';
import { OnboardingClient } from '../client';
import { startEmulator } from '../emulator';
import { startWorker } from '../worker/worker';
import { loadWorkerVersioning } from '../worker/config';
import { installRedactingRuntime } from '../worker/logging';
import { codecFromEnv, dataConverterWithCodec, workerDataConverter } from '../common/codec/data-converter';
import { startCodecServer, type RunningCodecServer } from '../worker/codec-server';
import type { OnboardingRequest } from '../common/onboarding-input';
import type { OnboardingResult, OnboardingStatus } from '../common/onboarding-messages';
import { DEFAULT_TASK_QUEUE, onboardingWorkflowId } from '../common/ids';
import { CustomerService } from '../gateway/customers';
import { VisibilityAttribution } from '../gateway/firehose/attribution';
import { HttpCrmForwarder } from '../gateway/firehose/crm-forwarder';
import { FileSinkFirehoseSecrets } from '../gateway/firehose/secrets';
import { buildGateway } from '../gateway/server';
import { gatewaySignedPayload, signGatewayRequest, verifySignature } from '../gateway/signature';
import { startDevServer, freePort } from './dev-server';

const USAGE = `usage: npm run demo -- [options]
  --exit                 end after the summary (the default without a terminal)
  --keep-running         keep everything running without a terminal too (Ctrl-C / SIGTERM stops it)
  --external-id=ID       onboard this customer instead of acme-coffee
  --data-dir=DIR         keep the demo's state here instead of .data/
  --temporal-port=N      the dev server's gRPC port (default 7233, another free one when busy; 0: any)
  --ui-port=N            the Web UI's port (default 8233); --emulator-port=N (4010); --gateway-port=N (8080)`;

/** `--name=value` or `--name value`. */
function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (const [i, arg] of args.entries()) {
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
    if (arg === `--${name}`) return args[i + 1];
  }
  return undefined;
}

function portOption(name: string, preferred: number): number {
  const value = option(name);
  if (value === undefined) return preferred;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new Error(`--${name}: must be a port number (0 picks a free one), got "${value}"`);
  return Number(value);
}

/** The preferred port when it is free, another free one otherwise; 0 asks for any free one. */
async function portOr(preferred: number): Promise<number> {
  if (preferred === 0) return freePort();
  const net = await import('node:net');
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(freePort()));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(preferred)));
  });
}

/** 0600, written whole under a temporary name and renamed, so a symlink planted at `file` is replaced, not followed. */
function writeSecretFile(file: string, contents: string): void {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, contents, { mode: 0o600, flag: 'wx' });
  renameSync(temp, file);
}

function readIfExists(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/** A stand-in for the partner's CRM: accepts the gateway's signed event deliveries and remembers them. */
async function startCrmReceiver(signingSecret: string) {
  const events: Array<{ id: string; type: string; externalId: string; organizationId: string }> = [];
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const check = verifySignature(String(req.headers['x-signature'] ?? ''), [signingSecret], (t) =>
        gatewaySignedPayload(t, req.method ?? 'POST', req.url ?? '/', raw),
      );
      if (!check.ok) {
        res.writeHead(401).end();
        return;
      }
      try {
        events.push(JSON.parse(raw.toString('utf8')) as (typeof events)[number]);
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/crm/layers-events`,
    /** The first event matching `match`, or undefined after `timeoutMs`. */
    async next(match: (e: (typeof events)[number]) => boolean, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found || Date.now() >= deadline) return found;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const interactive = process.stdout.isTTY === true;
  const keepRunning =
    process.argv.includes('--keep-running') || (interactive && !process.argv.includes('--exit'));
  const externalId = option('external-id') ?? 'acme-coffee';
  const data = path.resolve(option('data-dir') ?? path.join(__dirname, '..', '.data'));
  const shown = (file: string) => {
    const relative = path.relative(process.cwd(), file);
    return relative && !relative.startsWith('..') ? relative : file;
  };
  const temporalPort = portOption('temporal-port', 7233);
  const uiPortWanted = portOption('ui-port', 8233);
  const emulatorPortWanted = portOption('emulator-port', 4010);
  // The partner firehose endpoint made by the first onboarding points at the gateway's address: a rerun on
  // the same state prefers the port it used last time.
  const gatewayPortFile = path.join(data, 'gateway-port');
  const gatewayPortWanted = portOption('gateway-port', Number(readIfExists(gatewayPortFile)) || 8080);
  mkdirSync(data, { recursive: true, mode: 0o700 });

  installRedactingRuntime({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN' });
  console.log(`Starting the Temporal dev server (state in ${shown(path.join(data, 'temporal.db'))})…`);
  const port = await portOr(temporalPort);
  const uiPort = await portOr(uiPortWanted);
  // With TEMPORAL_CODEC_KEYS set, payloads are encrypted: the Web UI and the CLI read them through a
  // token-protected codec server (the token rides in the endpoint path, since the UI cannot add headers). The
  // endpoint is never handed to the dev server (`--ui-codec-endpoint` would put the token in its argv, readable
  // by every local user through `ps`) nor printed: it goes to a 0600 file.
  const codec = codecFromEnv();
  let codecServer: RunningCodecServer | undefined;
  const codecEndpointFile = path.join(data, 'codec-endpoint');
  if (codec) {
    const token = process.env.CODEC_SERVER_TOKEN?.trim() || randomBytes(24).toString('hex');
    codecServer = await startCodecServer({
      codec,
      token,
      port: await portOr(Number(process.env.CODEC_SERVER_PORT) || 8888),
      corsOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
    });
    rmSync(codecEndpointFile, { force: true });
    writeSecretFile(codecEndpointFile, `${codecServer.url}/${token}\n`);
  }
  const server = await startDevServer({ port, uiPort, dbFilename: path.join(data, 'temporal.db') });
  const emulatorDir = path.join(data, 'emulator');
  const parentKeyFile = path.join(emulatorDir, 'parent-key');
  console.log(`Starting the Layers emulator (state in ${shown(emulatorDir)})…`);
  // The emulator's parent key is kept with its state so a restarted demo talks to the same parent org.
  const emulator = await startEmulator({
    port: await portOr(emulatorPortWanted),
    dataDir: emulatorDir,
    parentKey: readIfExists(parentKeyFile),
    quiet: true,
  });
  writeSecretFile(parentKeyFile, emulator.parentKey + '\n');

  const connection = await Connection.connect({ address: server.address });
  const client = new Client({
    connection,
    namespace: server.namespace,
    dataConverter: codec ? dataConverterWithCodec(codec) : undefined,
  });
  const taskQueue = DEFAULT_TASK_QUEUE;
  const crm = new OnboardingClient(client, taskQueue);

  // The CRM gateway, in this process, as `npm run gateway` runs it: CRM requests are signed with a secret made
  // for this run, and attributed firehose events go to a local stand-in for the partner's CRM.
  const signingSecret = randomBytes(32).toString('hex');
  const signingSecretFile = path.join(data, 'gateway-signing-secret');
  writeSecretFile(signingSecretFile, signingSecret + '\n');
  const crmReceiver = await startCrmReceiver(signingSecret);
  const secretsDir = path.join(data, 'secrets');
  const gateway = await buildGateway({
    credentials: { signingSecrets: [signingSecret], bearerTokens: [] },
    service: new CustomerService(crm, {
      namespace: server.namespace,
      temporalUiUrl: server.uiUrl ?? 'http://127.0.0.1:8233',
    }),
    logger: false,
    firehose: {
      secrets: new FileSinkFirehoseSecrets(secretsDir),
      attribution: new VisibilityAttribution(client),
      forwarder: new HttpCrmForwarder(crmReceiver.url, signingSecret),
    },
  });
  const gatewayUrl = await gateway.listen({ port: await portOr(gatewayPortWanted), host: '127.0.0.1' });
  writeFileSync(gatewayPortFile, `${new URL(gatewayUrl).port}\n`);

  const layers = new LayersClient({ baseUrl: emulator.url, apiKey: emulator.parentKey });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  // The partner firehose (LAYERS_FIREHOSE_URL for `npm run worker`): one all_children endpoint for every
  // customer, here the gateway's receiver, which attributes each event and hands it to the CRM.
  const firehoseUrl = process.env.LAYERS_FIREHOSE_URL?.trim() || `${gatewayUrl}/layers/webhooks`;
  const worker = await startWorker({
    connection: nativeConnection,
    temporal: { namespace: server.namespace, taskQueue },
    deps: {
      layers,
      secretSink: new FileSecretSink(secretsDir),
      firehose: { url: firehoseUrl, events: ['content.generated', 'post.published'] },
      webhookUrlPolicy: { localMode: true },
    },
    dataConverter: workerDataConverter(codec),
    // Versioned like `npm run worker`, which may have used the same .data/temporal.db: an unversioned demo
    // worker would then get no work (the deployment's current version would). The demo is the only worker
    // here, so it makes its own build current.
    versioning: loadWorkerVersioning({
      ...process.env,
      TEMPORAL_WORKER_SET_CURRENT: process.env.TEMPORAL_WORKER_SET_CURRENT?.trim() || 'always',
    }),
  });

  console.log(
    `\nTemporal dev server  ${server.address}${port !== temporalPort && temporalPort !== 0 ? ` (${temporalPort} was busy)` : ''}, namespace ${server.namespace}`,
  );
  console.log(
    `                     e.g. TEMPORAL_ADDRESS=${server.address} npm run onboard -- status ${externalId}`,
  );
  console.log(`Temporal Web UI      ${server.uiUrl}`);
  console.log(`Layers emulator      ${emulator.url} (state: ${emulator.url}/_emulator/state)`);
  console.log(`                     parent key in ${shown(parentKeyFile)} (0600)`);
  console.log(
    `CRM gateway          ${gatewayUrl} (signing secret for this run in ${shown(signingSecretFile)}, 0600)`,
  );
  console.log(`CRM events receiver  ${crmReceiver.url} (the gateway's CRM_EVENTS_URL)`);
  console.log(`Partner firehose     ${firehoseUrl} (the worker's LAYERS_FIREHOSE_URL)`);
  if (codec && codecServer) {
    console.log(
      `Payload codec        on (encrypting with key ${codec.encryptionKeyId}); codec server ${codecServer.url}`,
    );
    console.log(
      `                     its endpoint, token included, is in ${shown(codecEndpointFile)} (0600):`,
    );
    console.log(
      `                     Web UI: paste it under Settings → Codec Server; CLI (env, not argv, so ps never shows it):`,
    );
    console.log(
      `                     TEMPORAL_CODEC_ENDPOINT="$(cat ${shown(codecEndpointFile)})" temporal workflow show --address ${server.address} --workflow-id ${onboardingWorkflowId(externalId)}`,
    );
  }

  const request: OnboardingRequest = {
    customer: { externalId, name: 'Acme Coffee', metadata: { plan: 'growth' } },
    apiKey: { name: 'acme-integration', scopes: ['content:read', 'content:write'] },
    credits: 5000,
    creditConfig: { monthlyCreditCap: 5000, refillThreshold: 1000, refillAmount: 2000 },
    project: { name: 'Acme Coffee', timezone: 'America/Los_Angeles' },
  };

  const running = worker.run();
  let exitCode = 0;
  try {
    const result = await onboardThroughGateway(gatewayUrl, signingSecret, crm, request);
    console.log('\nDone. What you have now:');
    console.log(`  child org        ${result.orgId}`);
    console.log(
      `  API key          ${result.apiKey.id} (prefix ${result.apiKey.prefix}, scopes ${result.apiKey.scopes.join(', ')}); secret in ${shown(secretsDir)}/`,
    );
    console.log(
      `  credits          transfer ${result.transferId}: balance ${result.balance}, available ${result.available}`,
    );
    const c = result.creditConfig;
    console.log(
      `  creditConfig     cap ${c.monthlyCreditCap}/month, refill ${c.refillAmount} below ${c.refillThreshold} (autoRefillEnabled: ${c.autoRefillEnabled})`,
    );
    console.log(
      `  firehose         ${result.firehoseEndpointId} (the partner's all_children endpoint; signing secret in ${shown(secretsDir)}/)`,
    );
    console.log(`  project          ${result.projectId}`);

    if (firehoseUrl.startsWith(gatewayUrl))
      await showAttributedEvent(client, emulator.url, crmReceiver, result.orgId, externalId);
    else
      console.log(
        `\nLAYERS_FIREHOSE_URL is set: Layers events go to ${firehoseUrl}, not through this gateway.`,
      );

    console.log(
      `\nTemporal Web UI: ${server.uiUrl}/namespaces/${server.namespace}/workflows/${encodeURIComponent(onboardingWorkflowId(externalId))}`,
    );
    if (keepRunning) {
      console.log(
        `\nEverything keeps running so you can look around; Ctrl-C stops it (state stays in ${shown(data)}).`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    } else if (!interactive && !process.argv.includes('--exit')) {
      console.log(
        `\nNo terminal (stdout is not a TTY), so the demo stops here; pass --keep-running to keep everything up (SIGTERM stops it).`,
      );
    }
  } catch (err) {
    console.error(`demo failed: ${(err as Error).message}`);
    exitCode = 1;
  } finally {
    await gateway.close();
    await crmReceiver.close();
    worker.shutdown();
    await running;
    await connection.close();
    await nativeConnection.close();
    await layers.close();
    await emulator.close();
    await server.stop();
    await codecServer?.close();
  }
  process.exit(exitCode);
}

/** What a CRM sends when a deal is won: a signed POST that waits for the outcome, while the steps print. */
async function onboardThroughGateway(
  gatewayUrl: string,
  signingSecret: string,
  crm: OnboardingClient,
  request: OnboardingRequest,
): Promise<OnboardingResult> {
  const { externalId, ...customer } = request.customer;
  const target = `/v1/customers/${encodeURIComponent(externalId)}/onboarding`;
  const body = JSON.stringify({ ...request, customer });
  console.log(
    `\nPOST ${gatewayUrl}${target} (signed, Prefer: wait=60, Idempotency-Key: demo-onboard-${externalId})`,
  );
  const answer = fetch(`${gatewayUrl}${target}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      prefer: 'wait=60',
      'idempotency-key': `demo-onboard-${externalId}`,
      'x-signature': signGatewayRequest(signingSecret, 'POST', target, body),
    },
    body,
  }).then(async (res) => ({ status: res.status, json: (await res.json()) as Record<string, unknown> }));
  let settled = false;
  void answer.then(
    () => (settled = true),
    () => (settled = true),
  );
  await followSteps(crm, externalId, () => settled);
  const { status, json } = await answer;
  const outcome = json.outcome as
    { state: 'active' | 'failed'; result?: OnboardingResult; error?: string } | undefined;
  if (status === 409) {
    throw new Error(
      `the gateway answered 409: ${String(json.detail ?? json.title)} (this data dir already saw ${externalId}; try --external-id=another-id or another --data-dir)`,
    );
  }
  if (status >= 300)
    throw new Error(
      `the gateway answered ${status}: ${String(json.detail ?? json.title ?? JSON.stringify(json))}`,
    );
  console.log(
    `  → ${status}, customer workflow ${String(json.customerWorkflowId)}${outcome ? `, outcome ${outcome.state}` : ''}`,
  );
  if (outcome?.state === 'failed') throw new Error(`onboarding failed: ${outcome.error}`);
  return outcome?.result ?? (await crm.result(externalId));
}

async function followSteps(
  crm: OnboardingClient,
  externalId: string,
  finished: () => boolean,
): Promise<void> {
  const printed = new Set<string>();
  const show = (status: OnboardingStatus) => {
    for (const step of status.steps) {
      const key = `${step.name}:${step.state}`;
      if (printed.has(key) || step.state === 'pending' || step.state === 'running') continue;
      printed.add(key);
      console.log(
        `  ${step.state === 'done' ? '✓' : step.state === 'skipped' ? '-' : '…'} ${step.name.padEnd(17)} ${step.detail ?? step.state}`,
      );
    }
  };
  while (!finished()) {
    try {
      show(await crm.status(externalId));
    } catch {
      /* the worker may not have picked it up yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  try {
    show(await crm.status(externalId));
  } catch {
    /* the answer below says what happened */
  }
}

/** Layers emits an event for the child; the gateway attributes it to the customer and hands it to the CRM. */
async function showAttributedEvent(
  client: Client,
  emulatorUrl: string,
  crmReceiver: Awaited<ReturnType<typeof startCrmReceiver>>,
  orgId: string,
  externalId: string,
): Promise<void> {
  // Attribution reads LayersOrgId from visibility, which follows the workflow by a moment.
  const deadline = Date.now() + 30_000;
  for (;;) {
    let seen = false;
    for await (const wf of client.workflow.list({
      query: `WorkflowType = 'customerLifecycle' AND LayersOrgId = '${orgId}'`,
    })) {
      seen = wf.workflowId.length > 0;
      break;
    }
    if (seen || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const res = await fetch(`${emulatorUrl}/_emulator/webhooks/emit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      organizationId: orgId,
      type: 'post.published',
      data: { postId: 'demo-post-1', channel: 'instagram' },
    }),
  });
  if (!res.ok) throw new Error(`the emulator refused to emit an event: ${res.status} ${await res.text()}`);
  const { eventId } = (await res.json()) as { eventId: string };
  console.log(
    `\nLayers emitted post.published ${eventId} for ${orgId} (POST ${emulatorUrl}/_emulator/webhooks/emit)`,
  );
  const event = await crmReceiver.next((e) => e.id === eventId, 30_000);
  if (!event) {
    console.log(
      `  the CRM received nothing within 30 s: the firehose endpoint may point at another gateway address from an earlier run (see ${emulatorUrl}/_emulator/deliveries)`,
    );
    return;
  }
  console.log(
    `CRM received ${event.type} ${event.id}: externalId ${event.externalId}, organizationId ${event.organizationId} (signed by the gateway)`,
  );
  if (event.externalId !== externalId)
    throw new Error(`the event was attributed to ${event.externalId}, not ${externalId}`);
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
