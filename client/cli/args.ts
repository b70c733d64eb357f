import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { InvalidInputError } from '../errors';
import type { OnboardingRequest } from '../../common/onboarding-input';

/** A usage mistake (a flag, an argument, a command): exit 2, JSON code `usage`, naming the flag or argument. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The flag (`--name`) or argument (`externalId`) at fault, when there is one. */
    readonly field?: string,
    /** The command it happened in, for the hint to its `--help`. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** One flag of a command: declared once, used for parsing, `--help` and the importer's CSV columns. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Repeatable: every occurrence is kept, in order. */
  multiple?: true;
  /** The value's name in `--help` (`--credits <N>`). */
  value?: string;
  description?: string;
}
export type OptionSpecs = Record<string, OptionSpec>;

/** What a parsed command line gives: flags under their own spelling (`external-id`), as in the specs. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]?: O[K] extends { multiple: true }
    ? string[]
    : O[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

export const JSON_OPTION = {
  json: { type: 'boolean', description: 'print the outcome (or the error) as JSON on stdout' },
} as const satisfies OptionSpecs;

export const START_OPTIONS = {
  input: {
    type: 'string',
    value: 'FILE',
    description: 'a JSON OnboardingRequest; flags override its fields',
  },
  'external-id': { type: 'string', value: 'ID', description: "the CRM's id for the customer (required)" },
  name: { type: 'string', value: 'NAME', description: 'customer name (required)' },
  credits: {
    type: 'string',
    value: 'N',
    description: 'credits to allocate from the parent wallet (required)',
  },
  cap: { type: 'string', value: 'N', description: 'monthly credit cap' },
  'refill-threshold': {
    type: 'string',
    value: 'N',
    description: 'auto-refill below this balance (with --refill-amount)',
  },
  'refill-amount': {
    type: 'string',
    value: 'N',
    description: 'auto-refill amount (with --refill-threshold)',
  },
  'webhook-url': {
    type: 'string',
    value: 'URL',
    description: 'firehose webhook (https, or http on loopback)',
  },
  events: {
    type: 'string',
    value: 'a,b',
    description: 'firehose event types (default content.generated,post.published)',
  },
  scopes: { type: 'string', value: 'a,b', description: "the customer key's scopes" },
  'key-name': { type: 'string', value: 'NAME', description: "the customer key's name" },
  'billing-email': { type: 'string', value: 'EMAIL', description: 'billing contact' },
  metadata: { type: 'string', multiple: true, value: 'k=v', description: 'customer metadata (repeatable)' },
  'project-name': { type: 'string', value: 'NAME', description: 'create a project in the child org' },
  timezone: { type: 'string', value: 'TZ', description: "the project's IANA time zone (default UTC)" },
  wait: { type: 'boolean', description: 'wait for onboarding to finish and print the result' },
  ...JSON_OPTION,
} as const satisfies OptionSpecs;

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Declares the specs' flags on a commander command. */
export function addOptions(command: Command, specs: OptionSpecs): Command {
  for (const [name, spec] of Object.entries(specs)) {
    const flags = spec.type === 'boolean' ? `--${name}` : `--${name} <${spec.value ?? 'value'}>`;
    const option = new Option(flags, spec.description ?? '');
    if (spec.multiple)
      option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    command.addOption(option);
  }
  return command;
}

/** commander's parsed options (camelCase) back under the specs' own names. */
export function optionValues<O extends OptionSpecs>(
  parsed: Record<string, unknown>,
  specs: O,
): OptionValues<O> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(specs)) {
    const value = parsed[camelCase(name)];
    if (value !== undefined) out[name] = value;
  }
  return out as OptionValues<O>;
}

/** commander's parse errors as a UsageError naming the flag or argument; `help`/`version` are not errors. */
export function usageErrorFrom(err: CommanderError, command?: string): UsageError {
  const text = err.message.replace(/^error: /, '');
  const quoted = /'([^']+)'/.exec(text)?.[1];
  const suggestion = /\(Did you mean ([^?]+)\?\)/.exec(text)?.[1];
  const hint = suggestion ? ` (did you mean ${suggestion}?)` : '';
  const where = command ? `${command}: ` : '';
  switch (err.code) {
    case 'commander.unknownOption':
      return new UsageError(`${where}unknown option ${quoted}${hint}`, quoted, command);
    case 'commander.unknownCommand':
      return new UsageError(`unknown command "${quoted}"${hint}`, undefined, command);
    case 'commander.missingArgument':
      return new UsageError(`${where}<${quoted}> is required`, quoted, command);
    case 'commander.missingMandatoryOptionValue': {
      const flag = quoted?.split(' ')[0];
      return new UsageError(`${where}${flag} is required`, flag, command);
    }
    case 'commander.optionMissingArgument': {
      const flag = quoted?.split(' ')[0];
      return new UsageError(`${where}${flag} needs a value (${quoted})`, flag, command);
    }
    case 'commander.excessArguments': {
      const counts = /Expected (\d+) arguments? but got (\d+)/.exec(text);
      const detail = counts
        ? `expects ${counts[1]} argument${counts[1] === '1' ? '' : 's'}, got ${counts[2]}`
        : text;
      return new UsageError(`${where}${detail}`, undefined, command);
    }
    default:
      return new UsageError(`${where}${text}`, undefined, command);
  }
}

/**
 * Parses one command's flags and operands without a program around it (the importer's own entry and the
 * hostile-input tests): same rules as the CLI, never prints, never exits.
 */
export function parseCommandArgs<O extends OptionSpecs>(
  argv: string[],
  specs: O,
): { values: OptionValues<O>; positionals: string[] } {
  const command = addOptions(new Command(), specs)
    .helpOption(false)
    .argument('[operands...]')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined })
    .action(() => undefined);
  try {
    command.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw usageErrorFrom(err);
    throw err;
  }
  return { values: optionValues(command.opts(), specs), positionals: command.args };
}

/** Numbers stay strings when they are not numbers, so validation names the field and the rule. */
function numberish(value: string | undefined): number | string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : value;
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
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
    throw new UsageError(
      `--input: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      '--input',
      'start',
    );
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new InvalidInputError([`(input file ${file}): must be a JSON object (${(err as Error).message})`]);
  }
}

export type StartValues = OptionValues<typeof START_OPTIONS>;

/** Flags override the input file, field by field. */
export function onboardingRequestFromFlags(values: StartValues): OnboardingRequest {
  const base = values.input ? readInputFile(values.input) : {};
  const request = structuredClone(base) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const set = (path: string[], value: unknown) => {
    if (value === undefined) return;
    let node = request;
    for (const key of path.slice(0, -1))
      node = node[key] = typeof node[key] === 'object' && node[key] !== null ? node[key] : {};
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
  if (request.firehose && !request.firehose.events)
    request.firehose.events = ['content.generated', 'post.published'];
  set(['apiKey', 'scopes'], list(values.scopes));
  set(['apiKey', 'name'], values['key-name']);
  set(['project', 'name'], values['project-name']);
  set(['project', 'timezone'], values.timezone);
  if (request.project && request.project.name && !request.project.timezone) request.project.timezone = 'UTC';
  return request as OnboardingRequest;
}

/**
 * `start` needs these three, from a flag or from the --input file. Missing ones are named with the flag to
 * add, before the schema's own rules run (which would describe `undefined` rather than say "required").
 */
export function requireStartFields(request: OnboardingRequest): void {
  const r = request as Partial<OnboardingRequest> & { customer?: Partial<OnboardingRequest['customer']> };
  const missing: Array<[flag: string, field: string]> = [];
  if (r.customer?.externalId === undefined) missing.push(['--external-id', 'customer.externalId']);
  if (r.customer?.name === undefined) missing.push(['--name', 'customer.name']);
  if (r.credits === undefined) missing.push(['--credits', 'credits']);
  if (missing.length) {
    const what = missing.map(([flag, field]) => `${flag} (${field})`).join(', ');
    throw new UsageError(
      `start: ${what} ${missing.length === 1 ? 'is' : 'are'} required, as a flag or in the --input file`,
      missing[0]![0],
      'start',
    );
  }
}
