import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/dev-server';

// `npm run demo` as a newcomer runs it, minus the terminal: its own dev server, emulator, worker and CRM
// gateway, in a temporary data dir on free ports, with payload encryption on. What an operator needs must be
// on stdout; no secret may be.

const ROOT = path.resolve(__dirname, '..', '..');

function runDemo(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/demo.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('npm run demo --exit: onboards through the gateway, shows the attributed event, prints where things are, leaks no secret, exits 0', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'layers-demo-'));
  const codecKey = randomBytes(32).toString('base64');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_CODEC_KEYS: `demo-test:${codecKey}`,
    CODEC_SERVER_PORT: String(await freePort()),
  };
  for (const name of [
    'LAYERS_FIREHOSE_URL',
    'CODEC_SERVER_TOKEN',
    'TEMPORAL_CODEC_KEYS_FILE',
    'TEMPORAL_CODEC_ENCRYPTION_KEY_ID',
    'LOG_LEVEL',
  ])
    delete env[name];

  const { code, stdout, stderr } = await runDemo(
    [
      '--exit',
      '--data-dir',
      dataDir,
      '--temporal-port=0',
      '--ui-port=0',
      '--emulator-port=0',
      '--gateway-port=0',
    ],
    env,
    240_000,
  );
  const output = stdout + stderr;
  expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) as string });

  // Where things are.
  const address = /^Temporal dev server {2}(127\.0\.0\.1:\d+), namespace default$/m.exec(stdout)?.[1];
  expect(address).toBeDefined();
  expect(stdout).toContain(`TEMPORAL_ADDRESS=${address} npm run onboard -- status acme-coffee`);
  expect(stdout).toMatch(/^Layers emulator {6}http:\/\/127\.0\.0\.1:\d+ \(state: /m);
  const parentKeyFile = path.join(dataDir, 'emulator', 'parent-key');
  expect(stdout).toContain(`parent key in ${parentKeyFile} (0600)`);
  const codecEndpointFile = path.join(dataDir, 'codec-endpoint');
  expect(stdout).toContain(
    `TEMPORAL_CODEC_ENDPOINT="$(cat ${codecEndpointFile})" temporal workflow show --address ${address} --workflow-id onboarding/acme-coffee`,
  );
  expect(stdout).toMatch(
    /^Payload codec {8}on \(encrypting with key demo-test\); codec server http:\/\/127\.0\.0\.1:\d+$/m,
  );

  // Onboarded through the gateway, and the child's event reached the CRM attributed to the customer.
  expect(stdout).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/v1\/customers\/acme-coffee\/onboarding \(signed/m);
  expect(stdout).toMatch(/✓ verify {12}balance 5000/);
  expect(stdout).toContain('→ 200, customer workflow customer/acme-coffee, outcome active');
  const orgId = /^ {2}child org {8}(org_\S+)$/m.exec(stdout)?.[1];
  expect(orgId).toBeDefined();
  expect(stdout).toMatch(
    new RegExp(
      `^CRM received post\\.published evt_\\S+: externalId acme-coffee, organizationId ${orgId} `,
      'm',
    ),
  );

  // Secrets stay in their 0600 files, never on stdout or stderr.
  const secretFiles = [parentKeyFile, codecEndpointFile, path.join(dataDir, 'gateway-signing-secret')];
  for (const file of secretFiles) {
    expect({ file, mode: statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 });
    const secret = readFileSync(file, 'utf8').trim();
    const token = file === codecEndpointFile ? secret.split('/').pop()! : secret;
    expect(token.length).toBeGreaterThan(16);
    expect(output).not.toContain(token);
  }
  expect(output).not.toContain(codecKey);
}, 300_000);
