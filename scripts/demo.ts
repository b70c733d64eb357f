// `npm run demo`: the whole product on one machine. Starts the Temporal dev server (state under .data/),
// the Layers emulator (state under .data/ too), a worker, and onboards Acme Coffee as in the guide.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { LayersClient } from '../activities/layers';
import { FileSecretSink } from '../activities/secret-sink';
import { OnboardingClient } from '../client';
import { startEmulator } from '../emulator';
import { startWorker } from '../worker/worker';
import { installRedactingRuntime } from '../worker/logging';
import { codecFromEnv, dataConverterWithCodec, workerDataConverter } from '../common/codec/data-converter';
import { startCodecServer, type RunningCodecServer } from '../worker/codec-server';
import type { OnboardingRequest } from '../common/onboarding-input';
import type { OnboardingStatus } from '../common/onboarding-messages';
import { startDevServer, freePort } from './dev-server';
import { Client, Connection } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../common/ids';

const DATA = path.resolve(__dirname, '..', '.data');

async function portOr(preferred: number): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(freePort()));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(preferred)));
  });
}

function demoParentKey(): string | undefined {
  // The emulator's parent key is kept with its state so a restarted demo talks to the same parent org.
  const file = path.join(DATA, 'emulator', 'parent-key');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

async function main(): Promise<void> {
  const keepRunning = process.argv.includes('--keep-running') || (process.stdout.isTTY && !process.argv.includes('--exit'));
  const externalId = process.argv.find((a) => a.startsWith('--external-id='))?.slice('--external-id='.length) ?? 'acme-coffee';

  installRedactingRuntime({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN' });
  console.log('Starting the Temporal dev server (state in .data/temporal.db)…');
  const port = await portOr(7233);
  const uiPort = await portOr(8233);
  // With TEMPORAL_CODEC_KEYS set, payloads are encrypted: the Web UI reads them through a token-protected
  // codec server (the token rides in the endpoint path, since the UI cannot add headers). The endpoint is
  // not handed to the dev server (`--ui-codec-endpoint` would put the token in its argv, readable by every
  // local user through `ps`, and the CLI reads it from nowhere else): it goes to a 0600 file, and you paste
  // it once into the Web UI's codec settings, which keep it in your browser.
  const codec = codecFromEnv();
  let codecServer: RunningCodecServer | undefined;
  if (codec) {
    const token = process.env.CODEC_SERVER_TOKEN?.trim() || randomBytes(24).toString('hex');
    codecServer = await startCodecServer({
      codec,
      token,
      port: await portOr(Number(process.env.CODEC_SERVER_PORT) || 8888),
      corsOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
    });
    const endpointFile = path.join(DATA, 'codec-endpoint');
    mkdirSync(DATA, { recursive: true, mode: 0o700 });
    rmSync(endpointFile, { force: true });
    writeFileSync(endpointFile, `${codecServer.url}/${token}\n`, { mode: 0o600, flag: 'wx' });
    console.log(
      `Payload codec on (encrypting with key ${codec.encryptionKeyId}); codec server at ${codecServer.url}. ` +
        `To read payloads in the Web UI, paste the endpoint in .data/codec-endpoint into its codec settings (Settings → Codec Server).`,
    );
  }
  const server = await startDevServer({
    port,
    uiPort,
    dbFilename: path.join(DATA, 'temporal.db'),
  });
  console.log('Starting the Layers emulator (state in .data/emulator)…');
  const emulator = await startEmulator({ port: await portOr(4010), dataDir: path.join(DATA, 'emulator'), parentKey: demoParentKey(), quiet: true });

  writeFileSync(path.join(DATA, 'emulator', 'parent-key'), emulator.parentKey + '\n', { mode: 0o600 });

  const layers = new LayersClient({ baseUrl: emulator.url, apiKey: emulator.parentKey });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const taskQueue = DEFAULT_TASK_QUEUE;
  const worker = await startWorker({
    connection: nativeConnection,
    temporal: { namespace: server.namespace, taskQueue },
    // The guide's firehose is Quinn's CRM's own receiver: partner configuration (LAYERS_FIREHOSE_URL and
    // LAYERS_FIREHOSE_EVENTS for `npm run worker`), one all_children endpoint for every customer.
    deps: {
      layers,
      secretSink: new FileSecretSink(path.join(DATA, 'secrets')),
      firehose: { url: process.env.LAYERS_FIREHOSE_URL?.trim() || 'https://quinns-crm.example.com/layers/webhooks', events: ['content.generated', 'post.published'] },
      webhookUrlPolicy: { localMode: true },
    },
    dataConverter: workerDataConverter(codec),
  });
  const connection = await Connection.connect({ address: server.address });
  const crm = new OnboardingClient(
    new Client({ connection, namespace: server.namespace, dataConverter: codec ? dataConverterWithCodec(codec) : undefined }),
    taskQueue,
  );

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
    let result;
    try {
      const started = await crm.start(request);
      console.log(`Onboarding ${externalId}: workflow ${started.workflowId}${started.started ? '' : ' (attached to the running one)'}`);
      result = await followSteps(crm, externalId);
    } catch (err) {
      if (!/already/i.test((err as Error).message)) throw err;
      console.log(`${externalId} was onboarded by an earlier demo run (state kept in .data/); showing that result.`);
      result = await crm.result(externalId);
    }
    console.log('\nDone. What you have now:');
    console.log(`  child org        ${result.orgId}`);
    console.log(`  API key          ${result.apiKey.id} (prefix ${result.apiKey.prefix}, scopes ${result.apiKey.scopes.join(', ')}); secret in .data/secrets/`);
    console.log(`  credits          transfer ${result.transferId}: balance ${result.balance}, available ${result.available}`);
    const c = result.creditConfig;
    console.log(`  creditConfig     cap ${c.monthlyCreditCap}/month, refill ${c.refillAmount} below ${c.refillThreshold} (autoRefillEnabled: ${c.autoRefillEnabled})`);
    console.log(`  firehose         ${result.firehoseEndpointId} (the partner's all_children endpoint; signing secret in .data/secrets/)`);
    console.log(`  project          ${result.projectId}`);
    console.log(`\nTemporal Web UI: ${server.uiUrl}/namespaces/${server.namespace}/workflows/${encodeURIComponent(`onboarding/${externalId}`)}`);
    console.log(`Layers emulator: ${emulator.url} (state: ${emulator.url}/_emulator/state)`);
    if (keepRunning) {
      console.log('\nEverything keeps running so you can look around; Ctrl-C stops it (state stays in .data/).');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
  } catch (err) {
    console.error(`demo failed: ${(err as Error).message}`);
    exitCode = 1;
  } finally {
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

async function followSteps(crm: OnboardingClient, externalId: string) {
  const printed = new Set<string>();
  const resultPromise = crm.result(externalId);
  let finished = false;
  void resultPromise.then(
    () => (finished = true),
    () => (finished = true),
  );
  const show = (status: OnboardingStatus) => {
    for (const step of status.steps) {
      const key = `${step.name}:${step.state}`;
      if (printed.has(key) || step.state === 'pending' || step.state === 'running') continue;
      printed.add(key);
      console.log(`  ${step.state === 'done' ? '✓' : step.state === 'skipped' ? '-' : '…'} ${step.name.padEnd(17)} ${step.detail ?? step.state}`);
    }
  };
  while (!finished) {
    try {
      show(await crm.status(externalId));
    } catch {
      /* the worker may not have picked it up yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  show(await crm.status(externalId));
  return resultPromise;
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
