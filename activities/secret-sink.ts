import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A secret Layers shows exactly once. It lives only in memory until a sink has stored it. */
export interface ShownOnceSecret {
  kind: 'api-key' | 'webhook-signing-secret';
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

/** 0600 files in a 0700 folder: the local default (`LAYERS_SECRET_SINK_DIR`, default `.data/secrets`). */
export class FileSecretSink implements SecretSink {
  constructor(private readonly dir: string) {}

  async store(secret: ShownOnceSecret): Promise<string> {
    if (!/^[A-Za-z0-9_-]+$/.test(secret.id)) throw new Error(`secret sink: refusing unsafe id "${secret.id}"`);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = `${secret.kind}-${secret.id}.json`;
    const file = path.join(this.dir, name);
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    const body = JSON.stringify({ ...secret, storedAt: new Date().toISOString() }, null, 2);
    await writeFile(tmp, body, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
    return `file:${name}`;
  }
}
