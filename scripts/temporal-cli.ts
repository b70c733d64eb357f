import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/**
 * The temporal binary recorded by scripts/install-temporal-cli.js (run by `npm test`, the demo and
 * .ci/run). Undefined means the SDK's own download is the only route left.
 */
export function recordedTemporalCli(): string | undefined {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  const record = path.join(ROOT, '.tools', 'temporal-cli-path');
  if (!existsSync(record)) return undefined;
  const bin = readFileSync(record, 'utf8').trim();
  return bin && existsSync(bin) ? bin : undefined;
}
