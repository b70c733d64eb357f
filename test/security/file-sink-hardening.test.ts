// Issue 14 item 3: the file sink cannot be made to write a secret where an attacker wants it.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FileSecretSink, type ShownOnceSecret } from '../../activities/secret-sink';

const secret: ShownOnceSecret = {
  kind: 'api-key',
  id: 'key_7b0c2c57-8e57-4d1a-9c39-0c7d2b1e4f60',
  secret: 'lp_live_ABCDEFGHJKMNPQRS_filesinkhardening0123456789',
  organizationId: 'org_1',
};

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'sink-hardening-'));

/** Every file under `dir` whose content holds the secret. */
function filesHoldingSecret(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && readFileSync(full, 'utf8').includes(secret.secret)) out.push(full);
  }
  return out;
}

async function refusal(sink: FileSecretSink): Promise<ApplicationFailure> {
  const err = await sink.store(secret).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).nonRetryable).toBe(true);
  expect((err as ApplicationFailure).type).toBe('SecretSinkUnsafe');
  return err as ApplicationFailure;
}

describe('FileSecretSink hardening', () => {
  test('a new directory is created 0700 and the file 0600, with no temporary file left', async () => {
    const root = tmp();
    const dir = path.join(root, 'nested', 'secrets');
    await new FileSecretSink(dir).store(secret);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const file = path.join(dir, `api-key-${secret.id}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ secret: secret.secret });
    expect(readdirSync(dir)).toEqual([`api-key-${secret.id}.json`]);
  });

  test('a 0755 sink directory is refused and nothing is written', async () => {
    const dir = path.join(tmp(), 'secrets');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const err = await refusal(new FileSecretSink(dir));
    expect(err.message).toContain('open to group or others (mode 755)');
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a sink directory that is a symlink is refused; the secret does not reach its target', async () => {
    const root = tmp();
    const elsewhere = path.join(root, 'attacker');
    mkdirSync(elsewhere, { mode: 0o700 });
    const dir = path.join(root, 'secrets');
    symlinkSync(elsewhere, dir);
    const err = await refusal(new FileSecretSink(dir));
    expect(err.message).toContain('symbolic link');
    expect(filesHoldingSecret(elsewhere)).toEqual([]);
  });

  test('planted symlinks at the final name and at the old predictable temp names receive nothing', async () => {
    const root = tmp();
    const dir = path.join(root, 'secrets');
    mkdirSync(dir, { mode: 0o700 });
    const outside = path.join(root, 'outside');
    mkdirSync(outside);
    const name = `api-key-${secret.id}.json`;
    const targets: string[] = [];
    const plant = (link: string) => {
      const target = path.join(outside, `target-${targets.length}`);
      writeFileSync(target, 'untouched');
      targets.push(target);
      symlinkSync(target, path.join(dir, link));
    };
    plant(name);
    // The old sink named its temp file `${file}.${pid}.${Date.now()}.tmp`: plant a spread of those.
    const now = Date.now();
    for (let ms = 0; ms < 200; ms++) plant(`${name}.${process.pid}.${now + ms}.tmp`);
    await new FileSecretSink(dir).store(secret);
    for (const target of targets) expect(readFileSync(target, 'utf8')).toBe('untouched');
    expect(filesHoldingSecret(outside)).toEqual([]);
    // The final name is now a regular 0600 file in the sink (the symlink was replaced, not followed).
    expect(lstatSync(path.join(dir, name)).isSymbolicLink()).toBe(false);
    expect(statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);
  });

  test('a sink path that is a regular file is refused clearly', async () => {
    const file = path.join(tmp(), 'not-a-dir');
    writeFileSync(file, '');
    expect((await refusal(new FileSecretSink(file))).message).toContain('is not a directory');
    expect(existsSync(`${file}/api-key-${secret.id}.json`)).toBe(false);
  });
});
