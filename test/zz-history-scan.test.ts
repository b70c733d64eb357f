// Runs after the e2e suite (and proves something on its own too): every workflow history on the test
// dev server — all of them, whoever started them — is scanned for every secret the tests handed out
// (parent keys, minted API keys, signing secrets: see test/helpers/secret-registry.ts) and for anything
// shaped like one. Histories written with the payload codec must not show a customer's name or billing
// email in plaintext either (search attributes carry ids only).
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../common/codec/aes-gcm-codec';
import { acmeCoffee } from './helpers/onboarding-env';
import { readTestSecrets } from './helpers/secret-registry';
import {
  findCustomer,
  findSecretShapes,
  historyText,
  payloadEncoding,
  startSecurityEnv,
  testCodec,
} from './security/helpers';
import { onboardingWorkflowId } from '../common/ids';

/* eslint-disable @typescript-eslint/no-explicit-any */

describe('no secret in any workflow history on the dev server', () => {
  const own = { plain: '', encrypted: '' };

  beforeAll(async () => {
    // Onboardings of its own, with and without the codec, so the scan has something to find when run alone.
    for (const codec of [undefined, testCodec()]) {
      const env = await startSecurityEnv({ codec });
      try {
        const request = acmeCoffee();
        request.customer.name = codec ? 'Scan Encrypted Coffee' : 'Scan Plain Coffee';
        request.customer.billingEmail = codec
          ? 'billing@scan-encrypted.example'
          : 'billing@scan-plain.example';
        await env.run(async () => {
          await env.crm.start(request);
          await env.crm.result(request.customer.externalId);
        });
        own[codec ? 'encrypted' : 'plain'] = onboardingWorkflowId(request.customer.externalId);
      } finally {
        await env.close();
      }
    }
  });

  test('every history: no recorded secret or parent key, nothing secret-shaped; with the codec, no name or email', async () => {
    const { secrets, parentKeys } = readTestSecrets();
    // Minted during this run: at least the scan's own two keys and one signing secret.
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    expect(parentKeys.length).toBeGreaterThanOrEqual(2);
    const needles = [...new Set([...secrets, ...parentKeys])].filter((s) => s.length >= 16);

    const env = await startSecurityEnv({ codec: testCodec() });
    const decoder: AesGcmPayloadCodec = testCodec();
    try {
      const executions: WorkflowExecutionInfo[] = [];
      for await (const wf of env.client.workflow.list()) executions.push(wf);
      const ids = new Set(executions.map((e) => e.workflowId));
      expect(ids).toContain(own.plain);
      expect(ids).toContain(own.encrypted);

      const problems: string[] = [];
      let encryptedHistories = 0;
      let unreadable = 0;
      const scan = async (wf: WorkflowExecutionInfo) => {
        const history = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        const where = `${wf.workflowId} (${wf.runId})`;
        const text = historyText(history);
        for (const secret of needles)
          if (text.includes(secret))
            problems.push(`${where}: contains a recorded secret ${secret.slice(0, 12)}…`);
        for (const shape of findSecretShapes(text))
          problems.push(`${where}: contains something secret-shaped ${shape}`);

        const started = history.events?.find(
          (e) => e.workflowExecutionStartedEventAttributes,
        )?.workflowExecutionStartedEventAttributes;
        const input = started?.input?.payloads?.[0] as any;
        if (!input || payloadEncoding(input) !== ENCRYPTED_ENCODING) return;
        encryptedHistories++;
        let decoded: unknown;
        try {
          [decoded] = (await decoder.decode([input])).map((p) =>
            defaultPayloadConverter.fromPayload<unknown>(p),
          );
        } catch {
          unreadable++; // encrypted with keys some other suite chose: secrets were checked, plaintext cannot be
          return;
        }
        const visible = historyText(history, { skipEncryptedData: true });
        const customer = findCustomer(decoded);
        const pii = [customer?.name, customer?.billingEmail].filter(
          (v): v is string => typeof v === 'string' && v.length >= 4,
        );
        for (const value of pii)
          if (visible.includes(value)) problems.push(`${where}: codec on, but "${value}" is in plaintext`);
      };
      const queue = [...executions];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let wf = queue.shift(); wf; wf = queue.shift()) await scan(wf);
        }),
      );

      expect(problems).toEqual([]);
      expect(encryptedHistories).toBeGreaterThanOrEqual(1);
      expect(encryptedHistories - unreadable).toBeGreaterThanOrEqual(1);
      console.log(
        `history scan: ${executions.length} workflow histories, ${needles.length} recorded secrets, ${encryptedHistories} encrypted (${unreadable} with unknown keys)`,
      );
    } finally {
      await env.close();
    }
  });

  test('the scan would notice: the plain (codec off) history does show the name, the encrypted one does not', async () => {
    const env = await startSecurityEnv();
    try {
      const plain = historyText(await env.client.workflow.getHandle(own.plain).fetchHistory(), {
        skipEncryptedData: true,
      });
      const encrypted = historyText(await env.client.workflow.getHandle(own.encrypted).fetchHistory(), {
        skipEncryptedData: true,
      });
      expect(plain).toContain('Scan Plain Coffee');
      expect(plain).toContain('billing@scan-plain.example');
      expect(encrypted).not.toContain('Scan Encrypted Coffee');
      expect(encrypted).not.toContain('billing@scan-encrypted.example');
      // A secret planted in the text would be reported by the same check.
      expect(findSecretShapes(`x lp_live_ABCDEFGHJKMNPQRS_abcdefghijklmnopqrstuvwxyz y`)).toHaveLength(1);
    } finally {
      await env.close();
    }
  });
});
