import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ConfigError } from '../../common/connection';
import { CustomerArchivedError, InvalidInputError } from '../errors';
import { DEFAULT_TASK_QUEUE } from '../../common/ids';
import { OnboardingClient } from '../onboarding-client';
import { parseOnboardingInput } from '../../common/onboarding-input';
import { START_OPTIONS, UsageError, onboardingRequestFromFlags, parseCommandArgs } from './args';
import { IMPORT_USAGE, importCommand } from '../import/command';
import { LIFECYCLE_USAGE, lifecycleCommand, listCommand, statusCommand, type LifecycleCommand } from './lifecycle-commands';

const USAGE = `Usage: npm run onboard -- <command> [options]

Commands:
  start --external-id ID --name NAME --credits N [--cap N] [--refill-threshold N --refill-amount N]
        [--webhook-url URL] [--events a,b] [--scopes a,b] [--key-name NAME] [--billing-email EMAIL]
        [--metadata k=v ...] [--project-name NAME --timezone TZ] [--input customer.json] [--wait] [--json]
  funded <externalId>          tell a customer's onboarding that the parent wallet was topped up
${LIFECYCLE_USAGE}
${IMPORT_USAGE}

Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE (see README);
TEMPORAL_CODEC_KEYS or TEMPORAL_CODEC_KEYS_FILE: the workers' payload encryption keys (docs/SECURITY.md).`;

async function withClient<T>(fn: (client: OnboardingClient) => Promise<T>): Promise<T> {
  const client = await OnboardingClient.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Connects only when the command gets that far, so flag mistakes are reported without a server. */
async function withLazyClient<T>(fn: (client: () => Promise<OnboardingClient>) => Promise<T>): Promise<T> {
  let connected: Promise<OnboardingClient> | undefined;
  try {
    return await fn(() => (connected ??= OnboardingClient.connect()));
  } finally {
    if (connected) await (await connected.catch(() => undefined))?.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start': {
      const { values, positionals } = parseCommandArgs(rest, START_OPTIONS);
      if (positionals.length) throw new UsageError(`start: unexpected argument "${positionals[0]}"`);
      const request = onboardingRequestFromFlags(values);
      // Refuse bad input before touching the network, so a typo never waits on a connection.
      const parsed = parseOnboardingInput(request);
      if (!parsed.ok) throw new InvalidInputError(parsed.errors);
      return withClient(async (client) => {
        const started = await client.start(request);
        if (!values.json) {
          console.log(
            `${started.started ? 'Started' : 'Already running:'} onboarding of ${started.externalId} (workflow ${started.workflowId}, run ${started.runId})`,
          );
        }
        if (!values.wait) {
          if (values.json) console.log(JSON.stringify(started));
          return 0;
        }
        const result = await client.result(started.externalId);
        console.log(values.json ? JSON.stringify(result, null, 2) : `Onboarded ${result.externalId}: org ${result.orgId}, key ${result.apiKey.id} (${result.apiKey.prefix}…), balance ${result.balance}`);
        return 0;
      });
    }
    case 'status':
      return withLazyClient((client) => statusCommand(rest, client));
    case 'list':
      return withLazyClient((client) => listCommand(rest, client));
    case 'funded': {
      const { positionals } = parseCommandArgs(rest, {});
      if (positionals.length !== 1) throw new UsageError('funded: expects exactly one <externalId>');
      return withClient(async (client) => {
        await client.parentFunded(positionals[0]!);
        console.log(`Signalled ${positionals[0]}: parent wallet funded`);
        return 0;
      });
    }
    case 'import':
      return importCommand(rest);
    case 'pause':
    case 'resume':
    case 'churn':
    case 'reactivate':
      return withLazyClient((client) => lifecycleCommand(command as LifecycleCommand, rest, client));
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** Every failure is one readable line on stderr and a non-zero exit code. */
export function describeCliError(err: unknown): { message: string; code: number } {
  if (err instanceof UsageError) return { message: `error: ${err.message}\n(run "npm run onboard -- help" for usage)`, code: 2 };
  if (err instanceof InvalidInputError) return { message: `error: ${err.message}`, code: 2 };
  if (err instanceof ConfigError) return { message: `error: configuration: ${err.message}`, code: 2 };
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return { message: `error: this customer was already onboarded (${err.workflowId}); archived customers come back with a new externalId`, code: 1 };
  }
  if (err instanceof WorkflowNotFoundError) return { message: `error: no such customer or onboarding (${err.workflowId})`, code: 1 };
  if (err instanceof WorkflowFailedError) return { message: `error: onboarding failed: ${err.cause?.message ?? err.message}`, code: 1 };
  if (err instanceof WorkflowUpdateFailedError) return { message: `error: request refused: ${err.cause?.message ?? err.message}`, code: 2 };
  if (err instanceof CustomerArchivedError) return { message: `error: ${err.message}`, code: 1 };
  const message = err instanceof Error ? err.message : String(err);
  if (/^Failed to query Workflow/.test(message) && /DEADLINE_EXCEEDED|deadline/i.test(String((err as Error).cause ?? ''))) {
    return {
      message: `error: no worker answered the query: is a worker (npm run worker) polling task queue ${process.env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE}?`,
      code: 1,
    };
  }
  if (/ECONNREFUSED|UNAVAILABLE|Failed to connect/i.test(message)) {
    return { message: `error: cannot reach Temporal at ${process.env.TEMPORAL_ADDRESS ?? 'localhost:7233'} (is the server running?)`, code: 1 };
  }
  return { message: `error: ${message.split('\n')[0]}`, code: 1 };
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const { message, code } = describeCliError(err);
      console.error(message);
      process.exit(code);
    },
  );
}
