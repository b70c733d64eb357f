import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The package as a partner installs it: `npm pack` (prepack builds dist/), the tarball installed into an
// empty folder, the CLI run through its bin, and the client imported from TypeScript and from Node.

const root = path.resolve(__dirname, '../..');

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
    });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

test('npm pack → install in an empty folder → npx layers-onboard --help, and a TypeScript import of the client', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'layers-pack-'));
  const consumer = mkdtempSync(path.join(os.tmpdir(), 'layers-consumer-'));
  try {
    packInstallAndUse(out, consumer);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(consumer, { recursive: true, force: true });
  }
}, 600_000);

function packInstallAndUse(out: string, consumer: string): void {
  run('npm', ['pack', '--pack-destination', out], root);
  const tarball = readdirSync(out).find((f) => f.endsWith('.tgz'))!;
  expect(tarball).toMatch(/^layers-onboarding-orchestrator-.*\.tgz$/);

  writeFileSync(
    path.join(consumer, 'package.json'),
    JSON.stringify({ name: 'crm-backend', version: '1.0.0', private: true }),
  );
  run('npm', ['install', '--prefer-offline', '--no-save', path.join(out, tarball)], consumer);

  const help = run('npx', ['--no-install', 'layers-onboard', '--help'], consumer);
  expect(help).toMatch(/Usage/);
  expect(help).toMatch(/start/);

  writeFileSync(
    path.join(consumer, 'index.ts'),
    [
      "import { OnboardingClient, InvalidInputError, type OnboardingRequest } from 'layers-onboarding-orchestrator';",
      "import { pauseUpdate, type CustomerStatus } from 'layers-onboarding-orchestrator/lifecycle-messages';",
      "import { customerWorkflowId } from 'layers-onboarding-orchestrator/ids';",
      "import { signGatewayRequest } from 'layers-onboarding-orchestrator/gateway/signature';",
      "const request: OnboardingRequest = { customer: { externalId: 'acme', name: 'Acme' }, credits: 10 };",
      'const pause: (c: OnboardingClient, id: string) => Promise<CustomerStatus> = (c, id) => c.pauseAndWait(id, { reason: "x", eventId: "e" });',
      'console.log(JSON.stringify({ client: typeof OnboardingClient.connect, error: new InvalidInputError(["a: b"]).message, update: pauseUpdate.name,',
      "  id: customerWorkflowId(request.customer.externalId), signed: signGatewayRequest('s', 'GET', '/', '').startsWith('t='), pause: typeof pause }));",
    ].join('\n'),
  );
  writeFileSync(
    path.join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'es2022',
        strict: true,
        skipLibCheck: true,
        outDir: 'out',
        types: [],
      },
      files: ['index.ts'],
    }),
  );
  run(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
    consumer,
  );
  const printed = JSON.parse(run(process.execPath, ['out/index.js'], consumer)) as Record<string, unknown>;
  expect(printed).toEqual({
    client: 'function',
    error: 'invalid input: a: b',
    update: 'pauseCustomer',
    id: 'customer/acme',
    signed: true,
    pause: 'function',
  });
}
