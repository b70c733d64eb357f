import { CommanderError } from 'commander';
import { usageErrorFrom } from './args';
import { describeCliError, EXIT } from './errors';
import { buildProgram } from './program';
import { inSpan, setUpTracing, type Tracing } from '../../common/tracing';

export { describeCliError, EXIT } from './errors';

/** `--json` anywhere before a `--`: errors are then printed as JSON on stdout too. */
export function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Runs one command line and resolves to its exit code; errors are thrown for the caller to describe
 * (describeCliError) so that the CLI and the tests report them the same way.
 */
export async function run(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    // One trace per command: its root span parents the workflow starts, signals and updates it makes.
    await inSpan(`onboard ${argv[0]}`, () => program.parseAsync(argv, { from: 'user' }));
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return EXIT.ok; // --help, help, --version
    const name = program.commands.find((c) => c.name() === argv[0]) ? argv[0] : undefined;
    throw usageErrorFrom(err, name);
  }
  return code;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  let tracing: Tracing | undefined;
  const finish = (code: number, stream: NodeJS.WriteStream, text?: string) => {
    // The command's spans are sent before the process exits (a collector that is down loses them).
    void (tracing?.shutdown().catch(() => undefined) ?? Promise.resolve()).then(() => {
      if (text === undefined) process.exit(code);
      // Written before exiting, so a pipe reading stdout gets the whole JSON.
      stream.write(`${text}\n`, () => process.exit(code));
    });
  };
  Promise.resolve()
    .then(() => {
      tracing = setUpTracing({ serviceName: 'layers-onboarding-cli' }); // only with OTEL_EXPORTER_OTLP_ENDPOINT
      return run(argv);
    })
    .then(
      (code) => finish(code, process.stdout),
      (err: unknown) => {
        const described = describeCliError(err);
        if (wantsJson(argv)) finish(described.code, process.stdout, JSON.stringify(described.json));
        else finish(described.code, process.stderr, described.message);
      },
    );
}
