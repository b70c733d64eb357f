import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

// Where the firehose receiver finds the endpoint's signing secrets. Onboarding's firehose step stores the
// shown-once secret in the secret sink; history has only a reference. An interface, because the sink
// may be a vault behind HTTP in production, and because rotation means two secrets at once.

export interface FirehoseSecrets {
  /** Every secret a delivery may be signed with right now (current and previous). */
  current(): Promise<string[]>;
  /** Called when no secret matched: a rotation may have added one since the last read. */
  refresh?(): Promise<void>;
}

/** The partner firehose's secrets as the file sink names them (kind `firehose-signing-secret`, id whe_…). */
export const PARTNER_FIREHOSE_SECRET_FILE = /^firehose-signing-secret-[A-Za-z0-9_-]+\.json$/;

/** `GATEWAY_FIREHOSE_SECRETS`: fixed secrets from the environment. */
export class StaticFirehoseSecrets implements FirehoseSecrets {
  constructor(private readonly secrets: string[]) {}
  async current(): Promise<string[]> {
    return this.secrets;
  }
}

/**
 * The file sink's folder (`LAYERS_SECRET_SINK_DIR`): every `firehose-signing-secret-<whe_id>.json` (the
 * partner firehose, activities/firehose.ts), newest first. Read at most every `maxAgeMs`, and again at
 * once after a signature matched nothing.
 *
 * Only the partner firehose's secrets: a customer's own endpoint (`webhook-signing-secret-*`) has its
 * secret shown to that customer's receiver, and the receiver attributes by the body's
 * `data.organizationId` — accepting those secrets here would let one customer forge events for another.
 */
export class FileSinkFirehoseSecrets implements FirehoseSecrets {
  private cached: { secrets: string[]; at: number } | undefined;
  private reading: Promise<string[]> | undefined;

  constructor(
    private readonly dir: string,
    private readonly maxAgeMs = 30_000,
  ) {}

  async current(): Promise<string[]> {
    if (this.cached && Date.now() - this.cached.at < this.maxAgeMs) return this.cached.secrets;
    return this.read();
  }

  async refresh(): Promise<void> {
    // Always re-read: Layers does not retry a 401, so a delivery signed with a just-stored secret must
    // find it now. Concurrent refreshes share one read, and the rate limit bounds forged floods.
    await this.read();
  }

  private read(): Promise<string[]> {
    this.reading ??= this.load().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async load(): Promise<string[]> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    const found: Array<{ secret: string; storedAt: string }> = [];
    for (const name of names) {
      if (!PARTNER_FIREHOSE_SECRET_FILE.test(name)) continue;
      try {
        const stored = JSON.parse(await readFile(path.join(this.dir, name), 'utf8')) as {
          kind?: unknown;
          secret?: unknown;
          storedAt?: unknown;
        };
        // The sink records the kind inside the file too: a customer endpoint's secret copied under a
        // firehose name is still not the partner's.
        if (stored.kind !== undefined && stored.kind !== 'firehose-signing-secret') continue;
        if (typeof stored.secret === 'string' && stored.secret)
          found.push({ secret: stored.secret, storedAt: String(stored.storedAt ?? '') });
      } catch {
        /* being written (the sink renames atomically, so this is a stray temp file) */
      }
    }
    found.sort((a, b) => b.storedAt.localeCompare(a.storedAt));
    const secrets = [...new Set(found.map((f) => f.secret))];
    this.cached = { secrets, at: Date.now() };
    return secrets;
  }
}
