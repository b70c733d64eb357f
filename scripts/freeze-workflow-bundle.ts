// Freezes the workflow code of a commit as a worker of that commit really runs it: the webpack bundle
// Worker.create builds from `workflowsPath` at start-up, with the interceptor module and failure converter
// worker/main.ts gives it (metrics interceptors, the secret-scrubbing failure converter; no tracing, no
// payload codec — the default deployment). The safe-upgrade test runs such a bundle as "the old worker".
//
//   npx tsx scripts/freeze-workflow-bundle.ts <git-ref>        # e.g. e77e7ad → test/fixtures/workflow-bundles/<sha7>.js.gz
//   npx tsx scripts/freeze-workflow-bundle.ts --working-tree   # the checkout as it is now (uncommitted edits included)
//   … --out FILE                                               # write elsewhere (.gz: gzipped, else plain JS)
//
// A ref is exported with `git archive` into a fixed directory under the OS temp dir (so two runs on one
// machine produce the same bytes: the bundle's inline source map holds absolute paths) and bundled against
// this checkout's node_modules; the script refuses when the ref's package-lock pins another
// @temporalio/workflow than the installed one, since the bundle would then not be what that commit shipped.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { bundleWorkflowCode } from '@temporalio/worker';
import { quietLogger } from './quiet-logger';

const ROOT = path.resolve(__dirname, '..');
export const BUNDLE_FIXTURES = path.join(ROOT, 'test/fixtures/workflow-bundles');

/**
 * The bundle worker/worker.ts makes at start-up for the tree at `root` (no tracing: its interceptor module
 * is added only when OTEL_EXPORTER_OTLP_ENDPOINT is set; no codec: the encrypting converter only with keys).
 */
export async function bundleAsWorkerDoes(root: string): Promise<string> {
  const parts = {
    workflowsPath: path.join(root, 'workflows/index.ts'),
    metricsInterceptors: path.join(root, 'worker/metrics-workflow.ts'), // METRICS_WORKFLOW_INTERCEPTORS
    failureConverter: path.join(root, 'common/codec/failure-converter.ts'), // SANITIZING_FAILURE_CONVERTER_PATH
  };
  for (const [what, file] of Object.entries(parts))
    if (!existsSync(file))
      throw new Error(
        `${what}: ${file} is missing; this tree wires its worker differently, update the script`,
      );
  const { code } = await bundleWorkflowCode({
    workflowsPath: parts.workflowsPath,
    workflowInterceptorModules: [parts.metricsInterceptors],
    failureConverterPath: parts.failureConverter,
    logger: quietLogger,
  });
  return code;
}

/** The tree of `ref` in a directory of its own, resolving packages from this checkout's node_modules. */
export function exportRef(ref: string): { root: string; sha: string } {
  const sha = git(['rev-parse', '--verify', `${ref}^{commit}`]).trim();
  const root = path.join(os.tmpdir(), `layers-workflow-bundle-${sha.slice(0, 12)}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  execFileSync('tar', ['-x', '-C', root], { input: gitBuffer(['archive', '--format=tar', sha]) });
  symlinkSync(realpathSync(path.join(ROOT, 'node_modules')), path.join(root, 'node_modules'), 'dir');
  const pinned = pinnedWorkflowSdk(root);
  const installed = (
    JSON.parse(readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  if (pinned && pinned !== installed)
    throw new Error(
      `${ref} pins @temporalio/workflow ${pinned}, this checkout has ${installed}: the bundle would not be the shipped one`,
    );
  return { root, sha };
}

function pinnedWorkflowSdk(root: string): string | undefined {
  const lock = path.join(root, 'package-lock.json');
  if (!existsSync(lock)) return undefined;
  const parsed = JSON.parse(readFileSync(lock, 'utf8')) as {
    packages?: Record<string, { version?: string }>;
  };
  return parsed.packages?.['node_modules/@temporalio/workflow']?.version;
}

const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
const gitBuffer = (args: string[]) =>
  execFileSync('git', args, { cwd: ROOT, maxBuffer: 1 << 30, encoding: 'buffer' });

function parseArgs(argv: string[]): { ref?: string; out?: string } {
  let ref: string | undefined;
  let out: string | undefined;
  let workingTree = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--working-tree') workingTree = true;
    else if (arg === '--out') out = argv[++i];
    else if (arg.startsWith('--out=')) out = arg.slice('--out='.length);
    else if (!arg.startsWith('-') && ref === undefined) ref = arg;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (workingTree === (ref !== undefined))
    throw new Error('usage: freeze-workflow-bundle <git-ref> | --working-tree [--out FILE]');
  return { ref, out };
}

async function main(argv: string[]): Promise<void> {
  const { ref, out } = parseArgs(argv);
  let root = ROOT;
  let label = 'working-tree';
  let exported: string | undefined;
  if (ref !== undefined) {
    const tree = exportRef(ref);
    root = exported = tree.root;
    label = tree.sha.slice(0, 7);
  }
  try {
    const code = await bundleAsWorkerDoes(root);
    const file = path.resolve(out ?? path.join(BUNDLE_FIXTURES, `${label}.js.gz`));
    mkdirSync(path.dirname(file), { recursive: true });
    const bytes = file.endsWith('.gz') ? gzipSync(code, { level: 9 }) : Buffer.from(code);
    writeFileSync(file, bytes);
    const sha256 = createHash('sha256').update(code).digest('hex');
    console.log(
      `${path.relative(process.cwd(), file)}: ${label}, bundle ${Buffer.byteLength(code)} bytes (sha256 ${sha256}), written ${bytes.length} bytes`,
    );
  } finally {
    if (exported) rmSync(exported, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`freeze-workflow-bundle: ${(err as Error).message}`);
    process.exit(1);
  });
}
