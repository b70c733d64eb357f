import { Writable } from 'node:stream';
import { createLogger, customerIdOf, PinoSdkLogger } from '../../common/logger';
import { RedactingLogger } from '../../worker/logging';

const SECRET = 'lp_live_ABCDEFGHJKMNPQRS_abcdefghijklmnopqrstuvwxyz012345';
const WHSEC = `whsec_${'b'.repeat(40)}`;

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString();
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return {
    lines,
    raw: () => raw,
    logger: createLogger({ level: 'DEBUG', component: 'worker', destination }),
  };
}

describe('structured logs (pino): one JSON object a line, scrubbed', () => {
  test('message, fields, nested values and errors lose their key material', () => {
    const { lines, raw, logger } = capture();
    const err = new Error(`call failed with ${SECRET}`, {
      cause: new Error(`Authorization: Bearer ${SECRET}`),
    });
    logger.warn(
      {
        error: err,
        nested: { deep: [WHSEC] },
        secret: 'anything at all',
        apiKey: 'plain-value',
        route: '/v1/whoami',
      },
      `Bearer ${SECRET} refused`,
    );
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      level: 'warn',
      component: 'worker',
      msg: '[REDACTED] refused',
      secret: '[REDACTED]',
      apiKey: '[REDACTED]',
      route: '/v1/whoami',
    });
    expect((line.error as { message: string }).message).toBe(
      'call failed with [REDACTED]: Authorization: [REDACTED]',
    ); // pino appends the cause
    expect(typeof line.time).toBe('string');
    expect(raw()).not.toContain(SECRET);
    expect(raw()).not.toContain('abcdefghijklmnopqrstuvwxyz012345');
    expect(raw()).not.toContain(WHSEC);
  });

  test('a plain message and printf-style arguments are scrubbed too', () => {
    const { raw, logger } = capture();
    logger.info(`key ${SECRET}`);
    logger.info('key %s', SECRET);
    expect(raw()).not.toContain(SECRET);
    expect(raw().match(/\[REDACTED\]/g)).toHaveLength(2);
  });

  test('the SDK logger (what the Runtime forwards): workflow id, run id, activity and customer id as fields; no task token', () => {
    const { lines, raw, logger } = capture();
    const sdk = new RedactingLogger(new PinoSdkLogger(logger));
    sdk.warn(`Activity failed: ${SECRET}`, {
      sdkComponent: 'worker',
      workflowId: 'onboarding/acme-coffee',
      workflowRunId: 'run-1',
      activityType: 'mintChildApiKey',
      taskToken: 'Q2lRd01XRXlNMkZr',
      attempt: 2,
    });
    sdk.info('Workflow started', {
      workflowId: 'suspend/acme-coffee/3',
      runId: 'run-2',
      workflowType: 'suspendCustomer',
    });
    sdk.debug('Activity started', {
      workflowId: 'customer/acme/nested',
      activityType: 'findCustomerOrganization',
    });
    sdk.trace('below the level');
    // The read/write queues have no workflows on purpose: the SDK's warning about that is dropped.
    sdk.warn('No workflows registered, not polling for workflow tasks');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'Activity failed: [REDACTED]',
        workflowId: 'onboarding/acme-coffee',
        runId: 'run-1',
        activity: 'mintChildApiKey',
        customerId: 'acme-coffee',
        attempt: 2,
      }),
      expect.objectContaining({
        level: 'info',
        msg: 'Workflow started',
        workflowId: 'suspend/acme-coffee/3',
        runId: 'run-2',
        customerId: 'acme-coffee',
      }),
      expect.objectContaining({
        level: 'debug',
        activity: 'findCustomerOrganization',
        customerId: 'acme/nested',
      }),
    ]);
    expect(raw()).not.toContain('taskToken');
    expect(raw()).not.toContain('workflowRunId');
  });

  test('customer ids from every workflow id shape (common/ids.ts)', () => {
    expect(customerIdOf('customer/acme-coffee')).toBe('acme-coffee');
    expect(customerIdOf('onboarding/acme-coffee')).toBe('acme-coffee');
    expect(customerIdOf('offboarding/acme-coffee')).toBe('acme-coffee');
    expect(customerIdOf('suspend/acme-coffee/12')).toBe('acme-coffee');
    expect(customerIdOf('something-else')).toBeUndefined();
    expect(customerIdOf(undefined)).toBeUndefined();
  });
});
