import { appendFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

// Every e2e helper records the secrets its run could leak — parent keys, secret-sink folders, other
// secrets — in one file under the run's temp dir, so test/zz-history-scan.test.ts can look for all of
// them in every workflow history on the dev server after the suite.

export interface RecordedSecrets {
  parentKeys?: string[];
  /** Folders of FileSecretSinks: every `secret` in their JSON files is a minted key or signing secret. */
  sinkDirs?: string[];
  /** Any other secret (e.g. one an HTTP sink received). */
  secrets?: string[];
}

function registryFile(): string | undefined {
  const dir = process.env.TEST_TMP_DIR;
  return dir ? path.join(dir, 'secret-registry.jsonl') : undefined;
}

export function recordTestSecrets(entry: RecordedSecrets): void {
  const file = registryFile();
  if (!file) return;
  appendFileSync(file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
}

/** Everything recorded so far, with the sink folders' secrets read out. */
export function readTestSecrets(): { parentKeys: string[]; sinkDirs: string[]; secrets: string[] } {
  const file = registryFile();
  const parentKeys = new Set<string>();
  const sinkDirs = new Set<string>();
  const secrets = new Set<string>();
  if (file && existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const entry = JSON.parse(line) as RecordedSecrets;
      entry.parentKeys?.forEach((k) => parentKeys.add(k));
      entry.sinkDirs?.forEach((d) => sinkDirs.add(d));
      entry.secrets?.forEach((s) => secrets.add(s));
    }
  }
  for (const dir of sinkDirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (!name.endsWith('.json') || !statSync(file).isFile()) continue;
      try {
        const stored = JSON.parse(readFileSync(file, 'utf8')) as { secret?: unknown };
        if (typeof stored.secret === 'string') secrets.add(stored.secret);
      } catch {
        /* a half-written temp file */
      }
    }
  }
  return { parentKeys: [...parentKeys], sinkDirs: [...sinkDirs], secrets: [...secrets] };
}
