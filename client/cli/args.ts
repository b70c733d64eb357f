import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidInputError } from '../errors';
import type { OnboardingRequest } from '../../common/onboarding-input';

/** A usage mistake: the CLI prints it with a hint and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const START_OPTIONS = {
  input: { type: 'string' },
  'external-id': { type: 'string' },
  name: { type: 'string' },
  credits: { type: 'string' },
  cap: { type: 'string' },
  'refill-threshold': { type: 'string' },
  'refill-amount': { type: 'string' },
  'webhook-url': { type: 'string' },
  events: { type: 'string' },
  scopes: { type: 'string' },
  'key-name': { type: 'string' },
  'billing-email': { type: 'string' },
  metadata: { type: 'string', multiple: true },
  'project-name': { type: 'string' },
  timezone: { type: 'string' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  // `--credits -5` would read -5 as a flag; join it so validation can say what is wrong with the number.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const next = argv[i + 1];
    const name = token.startsWith('--') ? token.slice(2) : undefined;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${token}=${next}`);
      i++;
    } else args.push(token);
  }
  try {
    return parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

/** Numbers stay strings when they are not numbers, so validation names the field and the rule. */
function numberish(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : value;
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

function metadataPairs(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidInputError([`customer.metadata: "${pair}" must be key=value`]);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function readInputFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--input: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new InvalidInputError([`(input file ${file}): must be a JSON object (${(err as Error).message})`]);
  }
}

type StartValues = { [K in keyof typeof START_OPTIONS]?: (typeof START_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof START_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };

/** Flags override the input file, field by field. */
export function onboardingRequestFromFlags(values: StartValues): OnboardingRequest {
  const base = values.input ? readInputFile(values.input) : {};
  const request = structuredClone(base) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const set = (path: string[], value: unknown) => {
    if (value === undefined) return;
    let node = request;
    for (const key of path.slice(0, -1)) node = node[key] = typeof node[key] === 'object' && node[key] !== null ? node[key] : {};
    node[path[path.length - 1]!] = value;
  };
  set(['customer', 'externalId'], values['external-id']);
  set(['customer', 'name'], values.name);
  set(['customer', 'billingEmail'], values['billing-email']);
  const metadata = metadataPairs(values.metadata);
  if (metadata) set(['customer', 'metadata'], { ...(request.customer?.metadata ?? {}), ...metadata });
  set(['credits'], numberish(values.credits));
  set(['creditConfig', 'monthlyCreditCap'], numberish(values.cap));
  set(['creditConfig', 'refillThreshold'], numberish(values['refill-threshold']));
  set(['creditConfig', 'refillAmount'], numberish(values['refill-amount']));
  set(['firehose', 'url'], values['webhook-url']);
  set(['firehose', 'events'], list(values.events));
  if (request.firehose && !request.firehose.events) request.firehose.events = ['content.generated', 'post.published'];
  set(['apiKey', 'scopes'], list(values.scopes));
  set(['apiKey', 'name'], values['key-name']);
  set(['project', 'name'], values['project-name']);
  set(['project', 'timezone'], values.timezone);
  if (request.project && request.project.name && !request.project.timezone) request.project.timezone = 'UTC';
  return request as OnboardingRequest;
}
