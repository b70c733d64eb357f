import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/dev-server';
import { recordedTemporalCli } from '../../scripts/temporal-cli';

// `npm run demo` as a newcomer runs it, minus the terminal: its own dev server, emulator, worker and CRM
// gateway, in a temporary data dir on free ports, with payload encryption on. What an operator needs must be
// on stdout; no secret may be. The second run reuses the first one's state, as a rerun on a laptop does.

const ROOT = path.resolve(__dirname, '..', '..');

function startDemo(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/demo.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    /** Resolves once stdout matches, rejects when the demo exits first or the time is up. */
    waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
      return new Promise((resolve, reject) => {
        const done = (error?: Error, match?: RegExpExecArray) => {
          listeners.delete(check);
          clearTimeout(timer);
          if (error) reject(error);
          else resolve(match!);
        };
        const check = () => {
          const match = pattern.exec(stdout);
          if (match) done(undefined, match);
        };
        const timer = setTimeout(
          () => done(new Error(`no ${pattern} within ${timeoutMs} ms\n${stdout}\n${stderr}`)),
          timeoutMs,
        );
        listeners.add(check);
        void exited.then(() =>
          done(new Error(`the demo exited before printing ${pattern}\n${stdout}\n${stderr}`)),
        );
        check();
      });
    },
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('npm run demo', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'layers-demo-'));
  const codecKey = randomBytes(32).toString('base64');
  const parentKeyFile = path.join(dataDir, 'emulator', 'parent-key');
  const codecEndpointFile = path.join(dataDir, 'codec-endpoint');
  const ports = ['--temporal-port=0', '--ui-port=0', '--emulator-port=0'];
  let env: NodeJS.ProcessEnv;
  let firstOrgId: string | undefined;

  beforeAll(async () => {
    env = {
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
  });

  test('without a terminal: onboards through the gateway, shows the attributed event, prints where things are, says why it stops, exits 0', async () => {
    const demo = startDemo(['--data-dir', dataDir, ...ports, '--gateway-port=0'], env);
    const code = await withTimeout(demo.exited, 240_000, 'the demo did not exit within 240 s').catch(
      (err: unknown) => {
        demo.child.kill('SIGKILL');
        throw err;
      },
    );
    const stdout = demo.stdout();
    const output = stdout + demo.stderr();
    expect({ code, stdout }).toEqual({ code: 0, stdout: expect.any(String) as string });

    // Where things are.
    const address = /^Temporal dev server {2}(127\.0\.0\.1:\d+), namespace default$/m.exec(stdout)?.[1];
    expect(address).toBeDefined();
    expect(stdout).toContain(`TEMPORAL_ADDRESS=${address} npm run onboard -- status acme-coffee`);
    expect(stdout).toMatch(/^Layers emulator {6}http:\/\/127\.0\.0\.1:\d+ \(state: /m);
    expect(stdout).toContain(`parent key in ${parentKeyFile} (0600)`);
    expect(stdout).toMatch(
      /^Payload codec {8}on \(encrypting with key demo-test\); codec server http:\/\/127\.0\.0\.1:\d+$/m,
    );
    expect(stdout).toContain(
      `TEMPORAL_CODEC_ENDPOINT="$(cat ${codecEndpointFile})" temporal workflow show --address ${address} --workflow-id onboarding/acme-coffee`,
    );

    // Onboarded through the gateway, and the child's event reached the CRM attributed to the customer.
    expect(stdout).toMatch(
      /^POST http:\/\/127\.0\.0\.1:\d+\/v1\/customers\/acme-coffee\/onboarding \(signed/m,
    );
    expect(stdout).toMatch(/✓ verify {12}balance 5000/);
    expect(stdout).toContain('→ 200, customer workflow customer/acme-coffee, outcome active');
    firstOrgId = /^ {2}child org {8}(org_\S+)$/m.exec(stdout)?.[1];
    expect(firstOrgId).toBeDefined();
    expect(stdout).toMatch(
      new RegExp(
        `^CRM received post\\.published evt_\\S+: externalId acme-coffee, organizationId ${firstOrgId} `,
        'm',
      ),
    );
    expect(stdout).toContain(
      'No terminal (stdout is not a TTY), so the demo stops here; pass --keep-running',
    );

    // Secrets stay in their 0600 files, never on stdout or stderr.
    for (const file of [parentKeyFile, codecEndpointFile, path.join(dataDir, 'gateway-signing-secret')]) {
      expect({ file, mode: statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 });
      const secret = readFileSync(file, 'utf8').trim();
      const token = file === codecEndpointFile ? secret.split('/').pop()! : secret;
      expect(token.length).toBeGreaterThan(16);
      expect(output).not.toContain(token);
    }
    expect(output).not.toContain(codecKey);
  }, 300_000);

  test('--keep-running on the same state: the same customer answers again (no second org), the printed codec line decrypts its history, SIGTERM stops it with 0', async () => {
    expect(firstOrgId).toBeDefined();
    const cli = recordedTemporalCli();
    if (!cli) throw new Error('no temporal CLI: run `node scripts/install-temporal-cli.js` (npm test does)');
    // No --gateway-port: the rerun prefers the port of the first run, where the firehose endpoint points.
    const demo = startDemo(['--keep-running', '--data-dir', dataDir, ...ports], env);
    try {
      await demo.waitFor(/Everything keeps running/, 240_000);
      const stdout = demo.stdout();
      expect(stdout).toContain(`  child org        ${firstOrgId}\n`);
      expect(stdout).toMatch(
        new RegExp(
          `^CRM received post\\.published evt_\\S+: externalId acme-coffee, organizationId ${firstOrgId} `,
          'm',
        ),
      );

      const line = /^ +(TEMPORAL_CODEC_ENDPOINT=.*)$/m.exec(stdout)![1]!;
      const shell = (command: string) =>
        new Promise<string>((resolve, reject) =>
          execFile(
            'bash',
            ['-c', command],
            { env: { ...env, PATH: `${path.dirname(cli)}:${env.PATH ?? ''}` } },
            (err, out, errOut) => (err ? reject(new Error(`${command}: ${errOut}`)) : resolve(out)),
          ),
        );
      // Through the codec server the onboarding's result reads as JSON; without it, it does not.
      expect(await shell(line)).toContain(`"orgId":"${firstOrgId}"`);
      expect(await shell(line.replace(/^TEMPORAL_CODEC_ENDPOINT="[^"]*" /, ''))).not.toContain(
        `"orgId":"${firstOrgId}"`,
      );
    } finally {
      demo.child.kill('SIGTERM');
    }
    expect(await withTimeout(demo.exited, 60_000, 'the demo did not stop within 60 s of SIGTERM')).toBe(0);
  }, 300_000);
});
