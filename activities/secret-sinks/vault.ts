import type { SecretSink, ShownOnceSecret } from '../secret-sink';

/**
 * The one call a vault needs to offer. `write` must be idempotent for a path (a replayed mint writes
 * the same secret again) and must throw when the write did not happen (the activity then retries).
 *
 * HashiCorp Vault (KV v2), with Node's fetch:
 *
 * ```ts
 * const vault: VaultClient = {
 *   async write(path, data) {
 *     const res = await fetch(`${process.env.VAULT_ADDR}/v1/secret/data/${path}`, {
 *       method: 'POST',
 *       headers: { 'X-Vault-Token': process.env.VAULT_TOKEN!, 'Content-Type': 'application/json' },
 *       body: JSON.stringify({ data }),
 *     });
 *     if (!res.ok) throw new Error(`vault: HTTP ${res.status} writing ${path}`); // never the body
 *   },
 * };
 * ```
 *
 * AWS Secrets Manager (`@aws-sdk/client-secrets-manager`):
 *
 * ```ts
 * const vault: VaultClient = {
 *   async write(path, data) {
 *     const SecretString = JSON.stringify(data);
 *     try {
 *       await sm.send(new CreateSecretCommand({ Name: path, SecretString }));
 *     } catch (err) {
 *       if ((err as Error).name !== 'ResourceExistsException') throw err;
 *       await sm.send(new PutSecretValueCommand({ SecretId: path, SecretString }));
 *     }
 *   },
 * };
 * ```
 *
 * Then in worker/main.ts: `deps: { layers, secretSink: new VaultSecretSink(vault, { pathPrefix: 'layers' }) }`.
 */
export interface VaultClient {
  write(path: string, data: Record<string, string>): Promise<void>;
}

/** Stores each secret at `<pathPrefix>/<kind>/<id>` and returns `vault:<path>` as the history-safe reference. */
export class VaultSecretSink implements SecretSink {
  private readonly prefix: string;

  constructor(
    private readonly vault: VaultClient,
    options: { pathPrefix?: string } = {},
  ) {
    this.prefix = (options.pathPrefix ?? 'layers').replace(/^\/+|\/+$/g, '');
  }

  async store(secret: ShownOnceSecret): Promise<string> {
    if (!/^[A-Za-z0-9_-]+$/.test(secret.id))
      throw new Error(`secret sink: refusing unsafe id "${secret.id}"`);
    const path = `${this.prefix}/${secret.kind}/${secret.id}`;
    const data: Record<string, string> = { kind: secret.kind, id: secret.id, secret: secret.secret };
    if (secret.organizationId) data.organizationId = secret.organizationId;
    if (secret.externalId) data.externalId = secret.externalId;
    if (secret.prefix) data.prefix = secret.prefix;
    await this.vault.write(path, data);
    return `vault:${path}`;
  }
}
