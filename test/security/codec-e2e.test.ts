import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { startCodecServer, type RunningCodecServer } from '../../worker/codec-server';
import { acmeCoffee } from '../helpers/onboarding-env';
import {
  findCustomer,
  historyPayloads,
  historyText,
  payloadEncoding,
  startSecurityEnv,
  testCodec,
  type SecurityEnv,
} from './helpers';
import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';

const TOKEN = 'test-codec-token-0123456789abcdef';

/* eslint-disable @typescript-eslint/no-explicit-any */
function toJson(payload: any) {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload.metadata ?? {}))
    metadata[k] = Buffer.from(v as Uint8Array).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? []).toString('base64') };
}

/** What the SDK core records in a local-activity marker's `data` detail (LocalActivityMarkerData). */
const LOCAL_ACTIVITY_MARKER_DATA_KEYS = [
  'activity_id',
  'activity_type',
  'attempt',
  'backoff',
  'complete_time',
  'original_schedule_time',
  'seq',
];

/** The `data` payloads of local-activity markers; each such marker's `result` must be encrypted. */
function localActivityMarkerData(history: any): Set<any> {
  const found = new Set<any>();
  for (const event of history.events ?? []) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') continue;
    for (const p of marker.details?.data?.payloads ?? []) found.add(p);
    for (const p of marker.details?.result?.payloads ?? [])
      expect(payloadEncoding(p)).toBe('binary/encrypted');
  }
  return found;
}

describe('payload codec end to end: worker and client encrypt, the codec server decodes real history payloads', () => {
  let env: SecurityEnv;
  let server: RunningCodecServer;
  const request = acmeCoffee();
  const externalId = request.customer.externalId;
  let history: any;
  /** The onboarding history, plus the customer (lifecycle) workflow's where there is one. */
  let histories: any[];

  beforeAll(async () => {
    env = await startSecurityEnv({ codec: testCodec() });
    server = await startCodecServer({ codec: testCodec(), token: TOKEN, port: 0 });
    await env.run(async () => {
      await env.crm.start(request);
      await env.crm.result(externalId);
    });
    history = await env.client.workflow.getHandle(onboardingWorkflowId(externalId)).fetchHistory();
    histories = [history];
    try {
      histories.push(await env.client.workflow.getHandle(customerWorkflowId(externalId)).fetchHistory());
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  });
  afterAll(async () => {
    await server?.close();
    await env?.close();
  });

  test('every payload in the history is encrypted; no customer name, email, secret or parent key in plaintext', () => {
    for (const h of histories) {
      // Search attributes are never encrypted (the server indexes them): ids and states only. Nor are
      // patch markers (`patched()`) or the `data` detail of local-activity markers: the SDK core writes
      // those itself, after the data converter has run, holding only the patch id, or the local
      // activity's seq, attempt, type and times. The local activity's `result` is ours and is encrypted.
      const coreWritten = localActivityMarkerData(h);
      for (const p of coreWritten) {
        const value = JSON.parse(Buffer.from(p.data).toString());
        expect(Object.keys(value).sort()).toEqual(LOCAL_ACTIVITY_MARKER_DATA_KEYS);
        expect(JSON.stringify(value)).not.toMatch(/Acme|@/);
      }
      const notCoreWritten = (p: any) => !coreWritten.has(p);
      const payloads = historyPayloads(h, { skipKeys: ['searchAttributes', 'patch-data'] }).filter(
        notCoreWritten,
      );
      expect(payloads.length).toBeGreaterThan(3);
      expect(payloads.filter((p) => payloadEncoding(p) !== 'binary/encrypted')).toEqual([]);
      for (const p of historyPayloads(h, { skipKeys: ['patch-data'] })
        .filter(notCoreWritten)
        .filter((p) => payloadEncoding(p) !== 'binary/encrypted')) {
        const value = JSON.parse(Buffer.from(p.data).toString());
        expect(typeof value === 'string' || Array.isArray(value)).toBe(true);
        expect(JSON.stringify(value)).not.toMatch(/Acme|@/);
      }
      const text = historyText(h, { skipEncryptedData: true });
      expect(text).not.toContain('Acme Coffee');
      expect(text).not.toContain(request.customer.billingEmail!);
      expect(text).not.toContain(env.emulator.parentKey);
      expect(text).toContain(externalId); // the search attribute and the workflow id
    }
  });

  test('finding: static summary/details and activity summaries (user metadata) go through the codec too', async () => {
    const events = histories.flatMap((h) => h.events);
    const withMetadata = events.filter((e: any) => e.userMetadata);
    const summaries = withMetadata.flatMap((e: any) =>
      [e.userMetadata.summary, e.userMetadata.details].filter(Boolean),
    );
    // A static summary on the workflow the client started, and one per scheduled activity.
    expect(
      withMetadata.some((e: any) => e.workflowExecutionStartedEventAttributes && e.userMetadata.summary),
    ).toBe(true);
    expect(withMetadata.filter((e: any) => e.activityTaskScheduledEventAttributes).length).toBeGreaterThan(3);
    for (const summary of summaries) expect(payloadEncoding(summary)).toBe('binary/encrypted');
    // …and a client with the codec reads them back: the summary names the customer, for operators with the key.
    const shown: string[] = [];
    for (const id of [customerWorkflowId(externalId), onboardingWorkflowId(externalId)]) {
      const description = await env.client.workflow
        .getHandle(id)
        .describe()
        .catch(() => undefined);
      const summary = await description?.staticSummary();
      if (summary) shown.push(summary);
    }
    expect(shown.join('\n')).toContain(`Acme Coffee (${externalId})`);
  });

  test('the codec server decodes a real history payload with the token, and refuses without it', async () => {
    const started = history.events.find((e: any) => e.workflowExecutionStartedEventAttributes);
    const input = started.workflowExecutionStartedEventAttributes.input.payloads[0];
    expect(payloadEncoding(input)).toBe('binary/encrypted');
    const body = JSON.stringify({ payloads: [toJson(input)] });

    const refused = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('Acme');
    const wrong = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer not-the-token-at-all-000' },
      body,
    });
    expect(wrong.status).toBe(401);

    const res = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-Namespace': env.temporal.namespace,
        Authorization: `Bearer ${TOKEN}`,
      },
      body,
    });
    expect(res.status).toBe(200);
    const decoded = (await res.json()) as {
      payloads: Array<{ metadata: Record<string, string>; data: string }>;
    };
    expect(Buffer.from(decoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    const value = JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString());
    expect(findCustomer(value)).toMatchObject({
      externalId,
      name: 'Acme Coffee',
      billingEmail: request.customer.billingEmail,
    });

    // The Web UI form: the token as the first path segment (the UI cannot add headers).
    const viaPath = await fetch(`${server.url}/${TOKEN}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
    expect(viaPath.status).toBe(200);
  });

  test('a failure is encrypted too (message and stack in an encoded payload); the codec client still reads it', async () => {
    const weak = await startSecurityEnv({
      codec: testCodec(),
      parentKey: async (control) => (await control.mintKey({ scopes: ['content:read'] })).secret,
    });
    try {
      const failing = acmeCoffee();
      const id = failing.customer.externalId;
      const err = await weak.run(async () => {
        await weak.crm.start(failing);
        return weak.crm.result(id).catch((e: unknown) => e);
      });
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(
        /failed at preflight/,
      );
      const failedHistory = await weak.client.workflow.getHandle(onboardingWorkflowId(id)).fetchHistory();
      const failed = failedHistory.events!.find((e) => e.workflowExecutionFailedEventAttributes)!;
      const failure = failed.workflowExecutionFailedEventAttributes!.failure!;
      expect(failure.message).toBe('Encoded failure');
      expect(payloadEncoding(failure.encodedAttributes)).toBe('binary/encrypted');
      expect(historyText(failedHistory, { skipEncryptedData: true })).not.toMatch(/org:admin scope/);
    } finally {
      await weak.close();
    }
  });
});
