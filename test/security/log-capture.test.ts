import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { LayersClient } from '../../activities/layers';
import { RedactingLogger } from '../../worker/logging';
import { dataConverterWithCodec } from '../../common/codec/data-converter';
import { emulatorControl, startEmulator, type RunningEmulator } from '../helpers/emulator';
import { uniqueExternalId } from '../helpers/onboarding-env';
import { readTestSecrets, recordTestSecrets } from '../helpers/secret-registry';
import { eventually, uniqueTaskQueue } from '../helpers/temporal';
import { findSecretShapes, historyText, TEST_CODEC_KEYS_ENV, testCodec } from './helpers';
import { startSinkReceiver } from './sink-receiver';
import { onboardingWorkflowId } from '../../common/ids';

const ROOT = path.resolve(__dirname, '../..');
const TSX = require.resolve('tsx/cli');
const SECRET = 'lp_live_ABCDEFGHJKMNPQRS_abcdefghijklmnopqrstuvwxyz012345';
const HMAC_KEY = 'log-capture-sink-key-0123456789abcdef012345';

describe('RedactingLogger (the worker Runtime logger)', () => {
  test('scrubs messages and metadata, including errors and their stacks and causes', () => {
    const lines: Array<[LogLevel, string, LogMetadata | undefined]> = [];
    const inner: Logger = {
      log: (level, message, meta) => void lines.push([level, message, meta]),
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    };
    const logger = new RedactingLogger(inner);
    const err = new Error(`failed with ${SECRET}`, { cause: new Error(`Bearer ${SECRET}`) });
    logger.warn(`Activity failed: Authorization: Bearer ${SECRET}`, {
      error: err,
      nested: { deep: [`whsec_${'a'.repeat(40)}`] },
      secret: 'anything at all',
      activityType: 'mintChildApiKey',
    });
    expect(lines).toHaveLength(1);
    const [level, message, meta] = lines[0]!;
    expect(level).toBe('WARN');
    expect(message).toBe('Activity failed: Authorization: [REDACTED]');
    const m = meta as Record<string, unknown>;
    expect((m.error as Error).message).toBe('failed with [REDACTED]');
    expect((m.error as Error).stack).not.toContain(SECRET);
    expect(((m.error as Error).cause as Error).message).toBe('[REDACTED]');
    expect(m.secret).toBe('[REDACTED]');
    expect(m.activityType).toBe('mintChildApiKey');
    expect(JSON.stringify(m)).not.toContain('whsec_aaaa');
  });
});

function spawnLogged(args: string[], env: Record<string, string>, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [TSX, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => log.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
  return child;
}

async function runCli(args: string[], env: Record<string, string>, log: string[]): Promise<number> {
  const child = spawnLogged(['client/cli/main.ts', ...args], env, log);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

describe('worker and CLI processes: logs across an e2e run carry no key material', () => {
  let emulator: RunningEmulator;
  let worker: ChildProcess | undefined;
  let receiver: Awaited<ReturnType<typeof startSinkReceiver>>;
  const log: string[] = [];
  const taskQueue = uniqueTaskQueue('log-capture');
  const secretsDir = mkdtempSync(path.join(os.tmpdir(), 'layers-secrets-'));
  let temporalEnv: Record<string, string>;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, quiet: true });
    // Down for 5 requests: longer than the sink's 4 in-process attempts, so one mint activity fails and retries.
    receiver = await startSinkReceiver(HMAC_KEY, [503, 503, 503, 503, 503]);
    recordTestSecrets({ parentKeys: [emulator.parentKey], sinkDirs: [secretsDir], secrets: [HMAC_KEY] });
    temporalEnv = {
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
      TEMPORAL_NAMESPACE: process.env.TEST_TEMPORAL_NAMESPACE ?? 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      TEMPORAL_CODEC_KEYS: TEST_CODEC_KEYS_ENV,
    };
  });
  afterAll(async () => {
    if (worker) await stop(worker);
    await receiver?.close();
    await emulator?.close();
  });

  test('onboardings with failing deliveries and Layers faults, CLI start/status/invalid input', async () => {
    // Faults on allocate make activities fail and retry, which the SDK logs with their errors.
    await emulatorControl(emulator.url).faults({
      seed: 'log-capture',
      rules: [{ method: 'POST', path: '/v1/organizations/:orgId/credits/allocate', beforeError: 0.6 }],
    });
    worker = spawnLogged(
      ['worker/main.ts'],
      {
        ...temporalEnv,
        LOG_LEVEL: 'DEBUG',
        LAYERS_API_URL: emulator.url,
        LAYERS_PARENT_KEY: emulator.parentKey,
        LAYERS_SECRET_SINK: 'http',
        LAYERS_SECRET_SINK_URL: receiver.url,
        LAYERS_SECRET_SINK_HMAC_KEY: HMAC_KEY,
        LAYERS_SECRET_SINK_DIR: secretsDir,
      },
      log,
    );
    await eventually(
      async () =>
        log.join('').includes('worker: polling') ||
        (worker!.exitCode !== null && Promise.reject(new Error(log.join('')))),
      {
        timeoutMs: 90_000,
        intervalMs: 250,
      },
    );

    const ids = [uniqueExternalId('logs'), uniqueExternalId('logs')];
    for (const id of ids) {
      const code = await runCli(
        [
          'start',
          '--external-id',
          id,
          '--name',
          'Acme Coffee',
          '--credits',
          '100',
          '--billing-email',
          'billing@acme.example',
          '--webhook-url',
          'https://crm.example.com/hooks',
          '--wait',
          '--json',
        ],
        temporalEnv,
        log,
      );
      expect(code).toBe(0);
      expect(await runCli(['status', id], temporalEnv, log)).toBe(0);
    }
    // Hostile input: exit 2, one readable error, no stack trace.
    const before = log.length;
    expect(
      await runCli(['start', '--external-id', 'x', '--name', 'n', '--credits', '-5'], temporalEnv, log),
    ).toBe(2);
    expect(
      await runCli(['start', '--external-id', 'x', '--name', SECRET, '--credits', '5'], temporalEnv, log),
    ).toBe(2);
    const refused = log.slice(before).join('');
    expect(refused).toMatch(/error: invalid input: credits: credits must be greater than 0/);
    expect(refused).toMatch(/error: invalid input: customer\.name: looks like a Layers secret/);
    expect(refused).not.toMatch(/\n\s+at /);

    await stop(worker!);
    worker = undefined;

    // The run really exercised the failure paths, and the worker logged them.
    expect(receiver.received.filter((r) => r.status === 503).length).toBe(5);
    expect(receiver.stored.size).toBeGreaterThanOrEqual(ids.length);
    const output = log.join('');
    if (process.env.DUMP_LOG) writeFileSync(process.env.DUMP_LOG, output); // to look at what was captured
    expect(output).toMatch(
      /worker: polling .* secrets to http \(http:\/\/127\.0\.0\.1:\d+\/layers\/secrets\); payload codec on \(encrypting with key test-2026\)/,
    );
    // Structured JSON lines (pino): the failed activity names its workflow, run, activity and customer.
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{"level"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = lines.find((l) => l.level === 'warn' && l.msg === 'Activity failed');
    expect(failed).toMatchObject({
      workflowId: expect.stringMatching(/^onboarding\//),
      runId: expect.any(String),
      activity: expect.any(String),
      customerId: expect.any(String),
    });
    expect(ids).toContain(failed!.customerId);
    expect(output).not.toContain('taskToken');
    expect(output).toContain(`"externalId": "${ids[0]}"`);

    const minted = [...receiver.stored.values()];
    recordTestSecrets({ secrets: minted });
    const known = [
      ...readTestSecrets().secrets,
      ...minted,
      emulator.parentKey,
      HMAC_KEY,
      ...TEST_CODEC_KEYS_ENV.split(',').map((e) => e.split(':')[1]!),
    ];
    for (const secret of known) expect(output).not.toContain(secret);
    expect(findSecretShapes(output)).toEqual([]);
    // The minted secrets really are secrets: one authenticates as its child.
    const asChild = new LayersClient({ baseUrl: emulator.url, apiKey: minted[0]! });
    try {
      expect((await asChild.whoami()).parentOrganizationId).toBe(emulator.parentOrganizationId);
    } finally {
      await asChild.close();
    }

    // And those workflows' histories: encrypted, with no secret and no customer name or email in them.
    const connection = await Connection.connect({ address: temporalEnv.TEMPORAL_ADDRESS });
    try {
      const client = new Client({
        connection,
        namespace: temporalEnv.TEMPORAL_NAMESPACE,
        dataConverter: dataConverterWithCodec(testCodec()),
      });
      for (const id of ids) {
        const history = await client.workflow.getHandle(onboardingWorkflowId(id)).fetchHistory();
        const text = historyText(history, { skipEncryptedData: true });
        for (const secret of known) expect(text).not.toContain(secret);
        expect(text).not.toContain('Acme Coffee');
        expect(text).not.toContain('billing@acme.example');
      }
    } finally {
      await connection.close();
    }
    expect(readdirSync(secretsDir)).toEqual([]); // the http sink, not files
  });
});
