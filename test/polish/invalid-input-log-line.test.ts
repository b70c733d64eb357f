import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { LayersApiError, LayersContractError } from '../../activities/layers/errors';
import { toApplicationFailure } from '../../activities/layers/failures';
import { createLogger, PinoSdkLogger } from '../../common/logger';
import { RedactingLogger } from '../../worker/logging';

// What the worker's Runtime logger writes when the SDK reports a failure ("Activity failed" with the
// ApplicationFailure an activity threw): JSON lines captured from the real pino logger.

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = new RedactingLogger(new PinoSdkLogger(createLogger({ level: 'INFO', destination })));
  return { logger, lines };
}

const contract = () =>
  toApplicationFailure(
    new LayersContractError({
      message: "Layers contract violation on POST /v1/organizations: field 'id' Required",
      field: 'id',
      route: '/v1/organizations',
      method: 'POST',
      status: 201,
    }),
  );

const validation = () =>
  toApplicationFailure(
    new LayersApiError({
      message: 'Invalid name: must be 1-128 characters.',
      status: 422,
      code: 'VALIDATION',
      details: { field: 'name', reason: 'must be 1-128 characters' },
      method: 'POST',
      route: '/v1/organizations',
    }),
  );

const zod = () => {
  const parsed = z.object({ orgId: z.string() }).safeParse({});
  return toApplicationFailure(parsed.success ? undefined : parsed.error);
};

describe('invalid input in an activity: non-retryable, logged as one WARN line naming the field, no stack', () => {
  test.each([
    ['a Layers contract violation', contract, 'LayersContractError', 'id'],
    ['a Layers 422 VALIDATION', validation, 'LayersNonRetryableError', 'name'],
    ['a schema (zod) error in the activity', zod, 'LayersNonRetryableError', 'orgId'],
  ])('%s', (_, make, type, field) => {
    const failure = make();
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe(type);
    expect(failure.stack).toMatch(/\n\s+at /);

    const { logger, lines } = capture();
    logger.error('Activity failed', {
      error: failure,
      activityType: 'createChildOrg',
      workflowId: 'onboarding/acme-1',
    });
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatchObject({
      level: 'warn',
      msg: 'Activity failed',
      field,
      failure: { type },
      activity: 'createChildOrg',
      customerId: 'acme-1',
    });
    expect(line).not.toHaveProperty('error');
    expect(JSON.stringify(line)).not.toMatch(/\\n\s+at |"stack"/);
  });

  test('any other failure keeps its level, error and stack (an operator needs those)', () => {
    const retryable = toApplicationFailure(
      new LayersApiError({
        message: 'upstream 500',
        status: 500,
        code: 'PLATFORM_ERROR',
        method: 'POST',
        route: '/v1/organizations',
      }),
    );
    expect(retryable.nonRetryable).toBe(false);
    const { logger, lines } = capture();
    logger.warn('Activity failed', { error: retryable, activityType: 'createChildOrg' });
    logger.error('Workflow failed', { error: new Error('a bug') });
    expect(lines.map((l) => l.level)).toEqual(['warn', 'error']);
    expect(lines[0]).not.toHaveProperty('field');
    expect((lines[0]!.error as { stack: string }).stack).toMatch(/\n\s+at /);
    expect((lines[1]!.error as { stack: string }).stack).toMatch(/\n\s+at /);
  });
});
