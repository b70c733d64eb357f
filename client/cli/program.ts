import { Command } from 'commander';
import { packageVersion } from '../../common/package-version';
import { parseOnboardingInput } from '../../common/onboarding-input';
import { InvalidInputError } from '../errors';
import { IMPORT_DESCRIPTION, IMPORT_OPTIONS, importCommand } from '../import/command';
import { OnboardingClient } from '../onboarding-client';
import {
  JSON_OPTION,
  START_OPTIONS,
  addOptions,
  onboardingRequestFromFlags,
  optionValues,
  requireStartFields,
  type OptionSpecs,
} from './args';
import {
  LIFECYCLE_DESCRIPTIONS,
  LIFECYCLE_OPTIONS,
  LIST_OPTIONS,
  lifecycleCommand,
  listCommand,
  statusCommand,
  type LifecycleCommand,
} from './lifecycle-commands';
import {
  RECONCILE_DESCRIPTION,
  RECONCILE_OPTIONS,
  REPAIR_DESCRIPTION,
  reconcileCommand,
  repairCommand,
} from './reconcile-commands';

export const ENVIRONMENT_HELP = `
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE (see README);
TEMPORAL_CODEC_KEYS or TEMPORAL_CODEC_KEYS_FILE: the workers' payload encryption keys (docs/SECURITY.md).

Exit codes: 0 ok · 1 the outcome failed (onboarding, an update, a refused request) · 2 usage or invalid
input · 3 not found · 4 conflict (already onboarded, archived) · 5 Temporal or Layers unavailable.
With --json, an error is printed on stdout as {"error":{"code","message","field"?}}.`;

/** Connects only when the command gets that far, so flag mistakes are reported without a server. */
async function withLazyClient<T>(fn: (client: () => Promise<OnboardingClient>) => Promise<T>): Promise<T> {
  let connected: Promise<OnboardingClient> | undefined;
  try {
    return await fn(() => (connected ??= OnboardingClient.connect()));
  } finally {
    if (connected) await (await connected.catch(() => undefined))?.close();
  }
}

function command(program: Command, name: string, description: string, specs: OptionSpecs): Command {
  return addOptions(program.command(name).description(description), specs);
}

/** `start` takes the CRM's event id as the gateway takes an Idempotency-Key (kept with the body's hash). */
const START_COMMAND_OPTIONS = {
  ...START_OPTIONS,
  'event-id': {
    type: 'string',
    value: 'ID',
    description:
      "the CRM event's id for this onboarding request: kept with the request's hash, so a repeat attaches and a different request for the running customer is refused (exit 4)",
  },
} as const;

/**
 * `npm run onboard -- <command>`. Actions report their exit code through `exit`; errors propagate to the
 * caller (main.ts), which prints them and picks the exit code (errors.ts).
 */
export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('onboard')
    .usage('<command> [options]   (npm run onboard -- <command> …)')
    .description('Onboard and manage Layers customers through their Temporal workflows.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpCommand('help [command]', 'help for a command')
    .addHelpText('after', ENVIRONMENT_HELP)
    .showSuggestionAfterError(true)
    // Set before the commands are added, which inherit them: errors are thrown (and printed by main.ts,
    // as JSON under --json), help and version go to stdout.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: () => undefined,
    });

  command(
    program,
    'start',
    'onboard a customer (attaches to the run already going for the same --external-id and the same request; a different request is refused, exit 4)',
    START_COMMAND_OPTIONS,
  ).action(async (opts: Record<string, unknown>) => {
    const values = optionValues(opts, START_COMMAND_OPTIONS);
    const request = onboardingRequestFromFlags(values);
    requireStartFields(request);
    // Refuse bad input before touching the network, so a typo never waits on a connection.
    const parsed = parseOnboardingInput(request);
    if (!parsed.ok) throw new InvalidInputError(parsed.errors);
    exit(
      await withLazyClient(async (connect) => {
        const client = await connect();
        const eventId = values['event-id'];
        const started = await client.start(request, eventId !== undefined ? { eventId } : {});
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
        console.log(
          values.json
            ? JSON.stringify(result, null, 2)
            : `Onboarded ${result.externalId}: org ${result.orgId}, key ${result.apiKey.id} (${result.apiKey.prefix}…), balance ${result.balance}`,
        );
        return 0;
      }),
    );
  });

  command(program, 'status', "the customer's lifecycle state, transitions and onboarding steps", JSON_OPTION)
    .argument('<externalId>')
    .action(async (externalId: string, opts: Record<string, unknown>) => {
      exit(
        await withLazyClient((connect) =>
          statusCommand(externalId, optionValues(opts, JSON_OPTION), connect),
        ),
      );
    });

  command(program, 'result', "wait for the customer's onboarding to finish and print its result", JSON_OPTION)
    .argument('<externalId>')
    .action(async (externalId: string, opts: Record<string, unknown>) => {
      const { json } = optionValues(opts, JSON_OPTION);
      exit(
        await withLazyClient(async (connect) => {
          const result = await (await connect()).result(externalId);
          if (json) console.log(JSON.stringify(result, null, 2));
          else
            console.log(
              `Onboarded ${result.externalId}: org ${result.orgId}, key ${result.apiKey.id} (${result.apiKey.prefix}…), balance ${result.balance}`,
            );
          return 0;
        }),
      );
    });

  command(program, 'funded', "tell a customer's onboarding that the parent wallet was topped up", JSON_OPTION)
    .argument('<externalId>')
    .action(async (externalId: string, opts: Record<string, unknown>) => {
      const { json } = optionValues(opts, JSON_OPTION);
      exit(
        await withLazyClient(async (connect) => {
          await (await connect()).parentFunded(externalId);
          if (json) console.log(JSON.stringify({ externalId, sent: 'parentFunded' }));
          else console.log(`Signalled ${externalId}: parent wallet funded`);
          return 0;
        }),
      );
    });

  for (const name of Object.keys(LIFECYCLE_OPTIONS) as LifecycleCommand[]) {
    const specs = LIFECYCLE_OPTIONS[name];
    command(program, name, LIFECYCLE_DESCRIPTIONS[name], specs)
      .argument('<externalId>')
      .action(async (externalId: string, opts: Record<string, unknown>) => {
        exit(
          await withLazyClient((connect) =>
            lifecycleCommand(name, externalId, optionValues(opts, specs), connect),
          ),
        );
      });
  }

  command(
    program,
    'list',
    'customers by lifecycle state (Temporal visibility); --limit pages with a cursor',
    LIST_OPTIONS,
  ).action(async (opts: Record<string, unknown>) => {
    exit(await withLazyClient((connect) => listCommand(optionValues(opts, LIST_OPTIONS), connect)));
  });

  command(program, 'reconcile', RECONCILE_DESCRIPTION, RECONCILE_OPTIONS).action(
    async (opts: Record<string, unknown>) => {
      exit(
        await withLazyClient((connect) => reconcileCommand(optionValues(opts, RECONCILE_OPTIONS), connect)),
      );
    },
  );

  command(program, 'repair', REPAIR_DESCRIPTION, JSON_OPTION)
    .argument('<kind>', 'the repair: adopt')
    .argument('<externalId>')
    .action(async (kind: string, externalId: string, opts: Record<string, unknown>) => {
      exit(
        await withLazyClient((connect) =>
          repairCommand(kind, externalId, optionValues(opts, JSON_OPTION), connect),
        ),
      );
    });

  command(program, 'import', IMPORT_DESCRIPTION, IMPORT_OPTIONS)
    .argument('<file>', 'customers.csv or customers.jsonl')
    .action(async (file: string, opts: Record<string, unknown>) => {
      exit(await importCommand(file, optionValues(opts, IMPORT_OPTIONS)));
    });

  return program;
}
