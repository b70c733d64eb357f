import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * This package's version, read from the nearest package.json above this file: the repository's when run
 * from source, the installed package's when run from dist/ (where a relative import would miss it).
 */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'layers-onboarding-orchestrator' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}
