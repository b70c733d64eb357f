/**
 * CLI: `npm run emulator -- --port 4010 --host 127.0.0.1 --data-dir .data/emulator`
 * Env: LAYERS_EMULATOR_PARENT_KEY, LAYERS_EMULATOR_PARENT_CREDITS (default 100000),
 *      LAYERS_EMULATOR_TIER (default partner), LAYERS_EMULATOR_WEBHOOK_RETRY_BASE_MS (default 1000),
 *      EMULATOR_CONTROL_TOKEN (unset: the /_emulator/* control API needs no token).
 */
import { parseArgs } from 'node:util';
import { startEmulator, type BuiltinTier } from './index';

function intEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('Usage: npm run emulator -- [--port 4010] [--host 127.0.0.1] [--data-dir DIR] [--quiet]');
    return;
  }
  const port = values.port === undefined ? 4010 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be 0–65535, got ${values.port}`);
    process.exit(2);
  }
  const tier = (process.env.LAYERS_EMULATOR_TIER || 'partner') as BuiltinTier;
  const emu = await startEmulator({
    port,
    host: values.host ?? '127.0.0.1',
    dataDir: values['data-dir'],
    quiet: values.quiet ?? false,
    parentKey: process.env.LAYERS_EMULATOR_PARENT_KEY || undefined,
    parentCredits: intEnv('LAYERS_EMULATOR_PARENT_CREDITS'),
    tier,
    webhookRetryBaseMs: intEnv('LAYERS_EMULATOR_WEBHOOK_RETRY_BASE_MS'),
    controlToken: process.env.EMULATOR_CONTROL_TOKEN || undefined,
  });
  console.log(`Layers emulator listening on ${emu.url} (API base URL ${emu.url}/v1)`);
  console.log(`LAYERS_BASE_URL=${emu.url}`);
  console.log(`LAYERS_PARENT_KEY=${emu.parentKey}`);
  console.log(
    `parent organization ${emu.parentOrganizationId}, tier ${tier}${values['data-dir'] ? `, data dir ${values['data-dir']}` : ''}`,
  );
  console.log(
    `control API ${emu.url}/_emulator/* (loopback only${process.env.EMULATOR_CONTROL_TOKEN ? ', EMULATOR_CONTROL_TOKEN required' : ''})`,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the emulator`);
    emu.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
