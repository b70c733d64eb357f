import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';

/** A secret Layers shows exactly once. It lives only in memory until a sink has stored it. */
export interface ShownOnceSecret {
  /**
   * `firehose-signing-secret`: the partner firehose's (activities/firehose.ts), a stable documented kind so
   * a firehose receiver finds the current and previous secrets; `webhook-signing-secret`: a customer's own
   * child-scoped endpoint.
   */
  kind: 'api-key' | 'webhook-signing-secret' | 'firehose-signing-secret';
  /** The Layers id of what the secret belongs to (key_… or whe_…): sinks are idempotent by it. */
  id: string;
  secret: string;
  organizationId?: string;
  externalId?: string;
  /** The key's public prefix, for humans matching a stored secret to a key. */
  prefix?: string;
}

/**
 * Where shown-once secrets go. `store` must be idempotent by (kind, id): an activity retried after a
 * lost response replays the mint and stores the same secret again. It returns a reference that is safe
 * to write to workflow history.
 */
export interface SecretSink {
  store(secret: ShownOnceSecret): Promise<string>;
}

/** The sink's directory or a file in it is not safe to hold secrets: the operator must fix it; retrying cannot. */
export const SECRET_SINK_UNSAFE = 'SecretSinkUnsafe';

function unsafe(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: SECRET_SINK_UNSAFE,
    nonRetryable: true,
    message: `secret sink: ${message}`,
  });
}

/**
 * 0600 files in a 0700 folder: the local default (`LAYERS_SECRET_SINK_DIR`, default `.data/secrets`).
 *
 * The folder is created 0700; an existing one must be a real directory (lstat: not a symlink), owned by
 * the worker's uid and closed to group and others — otherwise the store fails non-retryably naming the
 * problem (a 0755 folder may already have exposed what it holds, so it is not silently "fixed"). Each
 * secret is written to a temporary file with a random name, created exclusively (`wx`, O_NOFOLLOW) with
 * mode 0600, fsynced, renamed over `<kind>-<id>.json` (rename replaces a planted symlink, never follows
 * it), and the directory is fsynced before and after the rename, so a crash leaves either the old file
 * or the complete new one — never an empty file after the workflow moved on.
 */
export class FileSecretSink implements SecretSink {
  constructor(private readonly dir: string) {}

  private async checkedDirectory(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      // EEXIST (a file is there) and ENOTDIR fall through to the lstat checks, which name the problem.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTDIR')
        throw unsafe(`cannot create ${this.dir} (${code ?? 'error'})`);
    }
    let st;
    try {
      st = await lstat(this.dir);
    } catch (err) {
      throw unsafe(`cannot inspect ${this.dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (st.isSymbolicLink())
      throw unsafe(`${this.dir} is a symbolic link; LAYERS_SECRET_SINK_DIR must be a real directory`);
    if (!st.isDirectory()) throw unsafe(`${this.dir} is not a directory (LAYERS_SECRET_SINK_DIR)`);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid)
      throw unsafe(`${this.dir} is owned by uid ${st.uid}, not the worker's uid ${uid}`);
    if ((st.mode & 0o077) !== 0) {
      throw unsafe(
        `${this.dir} is open to group or others (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 700 ${this.dir}\` ` +
          'after checking that no secret in it leaked',
      );
    }
  }

  private async syncDirectory(): Promise<void> {
    const handle = await open(this.dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async store(secret: ShownOnceSecret): Promise<string> {
    if (!/^[A-Za-z0-9_-]+$/.test(secret.id)) throw unsafe(`refusing unsafe id "${secret.id.slice(0, 80)}"`);
    if (!/^[a-z-]+$/.test(secret.kind))
      throw unsafe(`refusing unsafe kind "${String(secret.kind).slice(0, 40)}"`);
    await this.checkedDirectory();
    const name = `${secret.kind}-${secret.id}.json`;
    const file = path.join(this.dir, name);
    const tmp = path.join(this.dir, `.${name}.${randomBytes(12).toString('hex')}.tmp`);
    const body = JSON.stringify({ ...secret, storedAt: new Date().toISOString() }, null, 2);
    let handle;
    try {
      handle = await open(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
    } catch (err) {
      throw unsafe(
        `cannot create a temporary file in ${this.dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    try {
      try {
        await handle.chmod(0o600);
        await handle.writeFile(body, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.syncDirectory();
      await rename(tmp, file);
      await this.syncDirectory();
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return `file:${name}`;
  }
}
