// What scripts/install-temporal-cli.js and scripts/install-temporal-test-server.js share: finding an
// executable on PATH, recording the chosen tool's path under .tools/ for tests and scripts to read, and
// giving up with the list of what was tried. Plain CommonJS with no dependencies: it runs before
// `npm ci` has built anything.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS_DIR = path.join(ROOT, '.tools');

/** The first executable `name` in a PATH directory, or undefined. */
function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

/** Records `bin` in `recordFile` and says which one was chosen (unless TEMPORAL_CLI_QUIET). */
function recordToolPath(recordFile, bin, describe) {
  fs.mkdirSync(TOOLS_DIR, { recursive: true });
  fs.writeFileSync(recordFile, bin + '\n');
  if (!process.env.TEMPORAL_CLI_QUIET) console.error(describe());
  return bin;
}

/** Forgets any recorded path (so nothing stale is used) and explains, on stderr, what was tried. */
function giveUp(recordFile, message, failures, fix) {
  try {
    fs.rmSync(recordFile, { force: true });
  } catch {
    /* nothing recorded */
  }
  console.error(message + '\n' + failures.map((f) => `  - ${f}`).join('\n') + '\n  Fix: ' + fix);
  return undefined;
}

module.exports = { ROOT, TOOLS_DIR, onPath, recordToolPath, giveUp };
