import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { recordedTemporalCli } from '../../scripts/temporal-cli';
import { childrenOf, parentWallet } from '../helpers/emulator';
import { startOnboardingTestEnv, uniqueExternalId, type OnboardingTestEnv } from '../helpers/onboarding-env';

// The README's "Integrating from any language" block, run as written with the `temporal` CLI: a CRM in
// another language needs nothing but those names. Only the customer id and the task queue are swapped
// for unique ones, so the run does not collide with other suites on the shared dev server.

const README = path.resolve(__dirname, '..', '..', 'README.md');

/** The commands of the ```bash any-language block, continuation lines joined, comments dropped. */
function anyLanguageCommands(markdown: string): string[] {
  const match = /^```bash any-language\n([\s\S]*?)^```$/m.exec(markdown);
  if (!match) throw new Error('README.md has no ```bash any-language block');
  const commands: string[] = [];
  let current = '';
  for (const line of match[1]!.split('\n')) {
    if (!current && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1);
      continue;
    }
    commands.push((current + line).trim());
    current = '';
  }
  return commands;
}

interface Ran {
  command: string;
  stdout: string;
}

function runShell(command: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-o', 'pipefail', '-c', command], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command}\nexited ${err.code}: ${stderr || stdout}`));
      else resolve({ command, stdout });
    });
  });
}

describe('integrating from any language: the README block with the temporal CLI', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  test('start → pause → churn as the README shows: onboarded, suspended, archived, credits back with the parent', async () => {
    const cli = recordedTemporalCli();
    if (!cli) throw new Error('no temporal CLI: run `node scripts/install-temporal-cli.js` (npm test does)');
    const externalId = uniqueExternalId('acme-coffee');
    const commands = anyLanguageCommands(readFileSync(README, 'utf8')).map((c) =>
      c
        .replaceAll('acme-coffee', externalId)
        .replaceAll('--task-queue layers-onboarding', `--task-queue ${env.taskQueue}`),
    );
    expect(commands.map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'temporal workflow start',
      'until temporal workflow',
      'temporal workflow result',
      'temporal workflow signal',
      'temporal workflow update',
      'temporal workflow query',
      'temporal workflow update',
      'temporal workflow result',
    ]);
    const shellEnv: NodeJS.ProcessEnv = {
      PATH: `${path.dirname(cli)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: env.temporal.address,
      TEMPORAL_NAMESPACE: env.temporal.namespace,
      // No profile from the developer's machine: only what the README says.
      TEMPORAL_CONFIG_FILE: path.join(process.env.TEST_TMP_DIR ?? '/nonexistent', 'no-temporal.toml'),
    };
    const before = parentWallet(await env.control.state()).balance;

    const outputs = await env.run(async () => {
      const ran: Ran[] = [];
      for (const command of commands) ran.push(await runShell(command, shellEnv));
      return ran;
    });
    const json = (i: number) => JSON.parse(outputs[i]!.stdout) as Record<string, unknown>;
    const onboarded = (json(2).result ?? json(2)) as { orgId: string; balance: number };
    expect(onboarded.orgId).toMatch(/^org_/);
    expect(onboarded.balance).toBe(5000);
    const paused = (json(4).result ?? json(4)) as { state: string; orgSuspended: boolean };
    expect(paused).toMatchObject({ state: 'suspended', orgSuspended: true });
    const final = (json(7).result ?? json(7)) as { state: string; offboarding: { reclaimedCredits: number } };
    expect(final).toMatchObject({ state: 'archived', offboarding: { reclaimedCredits: 5000 } });

    const state = await env.control.state();
    const org = childrenOf(state).find((o: { id: string }) => o.id === onboarded.orgId);
    expect(org?.status).toBe('archived');
    expect(state.wallets.find((w) => w.organizationId === onboarded.orgId)?.balance ?? 0).toBe(0);
    expect(parentWallet(state).balance).toBe(before);
    // The pause really suspended the org in Layers before the churn archived it.
    expect(Object.keys(state.requests.byRoute).some((route) => /suspend/.test(route))).toBe(true);
  }, 180_000);
});
