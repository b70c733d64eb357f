import { existsSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode } from '@temporalio/worker';
import { LayersClient } from '../../activities/layers';
import { FileSecretSink, type SecretSink } from '../../activities/secret-sink';
import { OnboardingClient } from '../../client';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, type CodecKey } from '../../common/codec/aes-gcm-codec';
import { ENCRYPTING_FAILURE_CONVERTER_PATH, dataConverterWithCodec } from '../../common/codec/data-converter';
import type { WorkerGroup } from '../../worker/worker';
import { emulatorControl, startEmulator, type RunningEmulator } from '../helpers/emulator';
import { recordTestSecrets } from '../helpers/secret-registry';
import {
  connectTestTemporal,
  createTestWorker,
  uniqueTaskQueue,
  type TemporalTestContext,
} from '../helpers/temporal';

/** Fixed test keys: the history scan decrypts codec-enabled histories with them. Newest last. */
export const TEST_CODEC_KEYS: CodecKey[] = [
  { id: 'test-2025', key: Buffer.alloc(32, 0x25) },
  { id: 'test-2026', key: Buffer.alloc(32, 0x26) },
];
export const TEST_CODEC_KEYS_ENV = TEST_CODEC_KEYS.map(
  (k) => `${k.id}:${Buffer.from(k.key).toString('base64')}`,
).join(',');

export function testCodec(): AesGcmPayloadCodec {
  return new AesGcmPayloadCodec(TEST_CODEC_KEYS);
}

/**
 * The global setup's bundle uses the default failure converter; with the codec on, workflows need the
 * encrypting one bundled in (production workers bundle it from `dataConverter.failureConverterPath`).
 * Built once per run and cached next to the global bundle.
 */
export async function encryptedWorkflowBundle(): Promise<{ codePath: string }> {
  const dir = process.env.TEST_TMP_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'layers-security-'));
  const codePath = path.join(dir, 'workflow-bundle-encrypted-failures.js');
  if (!existsSync(codePath)) {
    const silent = () => undefined;
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      failureConverterPath: ENCRYPTING_FAILURE_CONVERTER_PATH,
      logger: {
        log: silent,
        trace: silent,
        debug: silent,
        info: silent,
        warn: silent,
        error: (m: string) => console.error(m),
      },
    });
    const tmp = `${codePath}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, codePath);
  }
  return { codePath };
}

export interface SecurityEnv {
  temporal: TemporalTestContext;
  emulator: RunningEmulator;
  control: ReturnType<typeof emulatorControl>;
  layers: LayersClient;
  secretsDir: string;
  taskQueue: string;
  dataConverter?: DataConverter;
  /** A Temporal client with the same data converter as the worker. */
  client: Client;
  crm: OnboardingClient;
  newWorker(): Promise<WorkerGroup>;
  run<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Like startOnboardingTestEnv, with an optional codec on worker and client and a chosen secret sink. */
export async function startSecurityEnv(
  options: {
    codec?: AesGcmPayloadCodec;
    sink?: (secretsDir: string) => SecretSink;
    /** The worker's parent key; default the emulator's org:admin key. */
    parentKey?: (control: ReturnType<typeof emulatorControl>) => Promise<string>;
  } = {},
): Promise<SecurityEnv> {
  const temporal = await connectTestTemporal();
  const emulator = await startEmulator({ port: 0, quiet: true });
  const control = emulatorControl(emulator.url);
  const parentKey = options.parentKey ? await options.parentKey(control) : emulator.parentKey;
  const layers = new LayersClient({ baseUrl: emulator.url, apiKey: parentKey });
  const secretsDir = mkdtempSync(path.join(os.tmpdir(), 'layers-secrets-'));
  recordTestSecrets({ parentKeys: [emulator.parentKey, parentKey], sinkDirs: [secretsDir] });
  const taskQueue = uniqueTaskQueue('security');
  const dataConverter = options.codec ? dataConverterWithCodec(options.codec) : undefined;
  const workflowBundle = options.codec ? await encryptedWorkflowBundle() : undefined;
  const secretSink = options.sink ? options.sink(secretsDir) : new FileSecretSink(secretsDir);
  const client = new Client({
    connection: temporal.connection,
    namespace: temporal.namespace,
    dataConverter,
  });
  const newWorker = () =>
    createTestWorker(
      temporal,
      taskQueue,
      { layers, secretSink },
      { ...(dataConverter ? { dataConverter } : {}), ...(workflowBundle ? { workflowBundle } : {}) },
    );
  return {
    temporal,
    emulator,
    control,
    layers,
    secretsDir,
    taskQueue,
    dataConverter,
    client,
    crm: new OnboardingClient(client, taskQueue),
    newWorker,
    async run(fn) {
      return (await newWorker()).runUntil(fn);
    },
    async close() {
      await layers.close();
      await emulator.close();
      await temporal.close();
    },
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function isPayload(value: any): boolean {
  return (
    value &&
    typeof value === 'object' &&
    'data' in value &&
    'metadata' in value &&
    value.metadata &&
    typeof value.metadata === 'object'
  );
}

export function payloadEncoding(payload: any): string | undefined {
  const raw = payload?.metadata?.encoding;
  return raw ? Buffer.from(raw).toString('utf8') : undefined;
}

/**
 * Everything a person with namespace access could read in a history, as text: every string, every
 * byte field decoded as UTF-8 (payload data is JSON text unless encrypted). With `skipEncryptedData`,
 * the ciphertext of encrypted payloads is left out (random bytes would only add noise).
 */
export function historyText(history: unknown, options: { skipEncryptedData?: boolean } = {}): string {
  const parts: string[] = [];
  const seen = new WeakSet<object>();
  const walk = (value: any, depth: number) => {
    if (value === null || value === undefined || depth > 60) return;
    if (typeof value === 'string') parts.push(value);
    else if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
    else if (typeof value === 'object') {
      if (seen.has(value)) return;
      seen.add(value);
      if (isPayload(value) && options.skipEncryptedData && payloadEncoding(value) === ENCRYPTED_ENCODING) {
        walk(value.metadata, depth + 1);
        return;
      }
      if (Array.isArray(value)) value.forEach((v) => walk(v, depth + 1));
      else for (const key of Object.keys(value)) walk(value[key], depth + 1);
    }
  };
  walk(history, 0);
  return parts.join('\n');
}

/** Every payload in a history (input, results, failures' details and encoded attributes, user metadata, …). */
export function historyPayloads(history: unknown, options: { skipKeys?: string[] } = {}): any[] {
  const out: any[] = [];
  const seen = new WeakSet<object>();
  const skip = new Set(options.skipKeys ?? []);
  const walk = (value: any, depth: number) => {
    if (!value || typeof value !== 'object' || depth > 60 || value instanceof Uint8Array || seen.has(value))
      return;
    seen.add(value);
    if (isPayload(value)) {
      out.push(value);
      return;
    }
    if (Array.isArray(value)) value.forEach((v) => walk(v, depth + 1));
    else for (const key of Object.keys(value)) if (!skip.has(key)) walk(value[key], depth + 1);
  };
  walk(history, 0);
  return out;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The first `customer` object (`{externalId, name, billingEmail?, …}`) anywhere inside a decoded input. */
export function findCustomer(
  value: unknown,
  depth = 0,
): { externalId?: unknown; name?: unknown; billingEmail?: unknown } | undefined {
  if (!value || typeof value !== 'object' || depth > 8) return undefined;
  const customer = (value as Record<string, unknown>).customer;
  if (customer && typeof customer === 'object' && 'name' in customer) return customer as { name?: unknown };
  for (const v of Object.values(value)) {
    const found = findCustomer(v, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Shapes of Layers secrets (not key prefixes, which are public): `lp_live_<16>_<secret>` and `whsec_…`. */
export const SECRET_SHAPES = [
  /lp_(?:live|test)_[A-Za-z0-9]{16}_[A-Za-z0-9]{16,}/,
  /whsec_[A-Za-z0-9_-]{32,}/,
];

export function findSecretShapes(text: string): string[] {
  const found: string[] = [];
  for (const re of SECRET_SHAPES) {
    const m = new RegExp(re.source, 'g');
    for (const match of text.matchAll(m)) found.push(`${match[0].slice(0, 12)}…`);
  }
  return found;
}
