import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { InvalidInputError } from '../../client/errors';
import { OnboardingClient } from '../../client/onboarding-client';
import { parseLifecycleRequest } from '../../common/lifecycle-input';
import { parseOnboardingInput } from '../../common/onboarding-input';
import { runCli } from '../helpers/processes';

const complete = () => ({
  customer: { externalId: 'acme-1', name: 'Acme Coffee' },
  credits: 5000,
  firehose: { url: 'https://hooks.acme.example/layers', events: ['content.generated'] },
  project: { name: 'Launch', timezone: 'Europe/Paris' },
});

function without(path: string): Record<string, unknown> {
  const request = complete() as unknown as Record<string, Record<string, unknown>>;
  const [head, tail] = path.split('.') as [string, string | undefined];
  if (tail) delete request[head]![tail];
  else delete request[head];
  return request;
}

describe('a missing required field says "required", naming the field', () => {
  test('the complete request is valid (so each case below fails for its one missing field)', () => {
    expect(parseOnboardingInput(complete())).toMatchObject({ ok: true });
  });

  test.each([
    'customer',
    'customer.externalId',
    'customer.name',
    'credits',
    'firehose.url',
    'firehose.events',
    'project.name',
    'project.timezone',
  ])('library: without %s', (field) => {
    expect(parseOnboardingInput(without(field))).toEqual({ ok: false, errors: [`${field}: required`] });
  });

  test('library: present but of the wrong type keeps saying what it must be', () => {
    const request = { ...complete(), customer: { externalId: 42, name: null }, credits: '5000' };
    expect(parseOnboardingInput(request)).toEqual({
      ok: false,
      errors: [
        'customer.externalId: must be a string',
        'customer.name: must be a string',
        'credits: credits must be a number',
      ],
    });
  });

  test('library: nothing at all', () => {
    expect(parseOnboardingInput(undefined)).toEqual({ ok: false, errors: ['(input): required'] });
  });

  test('lifecycle requests: reason and eventId', () => {
    expect(parseLifecycleRequest('pause', { eventId: 'crm-1' }, Date.now())).toEqual({
      ok: false,
      errors: ['reason: required'],
    });
    expect(parseLifecycleRequest('churn', { reason: 'left' }, Date.now())).toEqual({
      ok: false,
      errors: ['eventId: required'],
    });
    expect(parseLifecycleRequest('resume', { reason: 7, eventId: 'crm-2' }, Date.now())).toEqual({
      ok: false,
      errors: ['reason: must be a string'],
    });
  });

  test('client: OnboardingClient.start throws InvalidInputError before touching Temporal', async () => {
    // A client with nothing behind it: reaching Temporal would throw a TypeError, not InvalidInputError.
    const crm = new OnboardingClient({} as Client, 'required-fields');
    const err = await crm.start(without('project.timezone') as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems).toEqual(['project.timezone: required']);
    expect((err as Error).message).toBe('invalid input: project.timezone: required');
  });

  test('CLI: start --input with a field missing names it, and exits before connecting', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'required-fields-'));
    const file = path.join(dir, 'request.json');
    writeFileSync(file, JSON.stringify(without('project.name')));
    // Nothing listens there: an attempt to connect would fail differently (and slowly).
    const { code, stdout } = await runCli(['start', '--input', file, '--json'], {
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(code).not.toBe(0);
    const { error } = JSON.parse(stdout) as { error: { code: string; message: string } };
    expect(error.message).toContain('project.name: required');
  });
});
