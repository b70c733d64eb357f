#!/usr/bin/env node
// Finds or installs Temporal's time-skipping test server and records its path in
// .tools/temporal-test-server-path for the workflow unit tests (test/unit/).
//
// The SDK downloads a native build of it at run time, which needs internet. No PyPI or npm package ships
// that binary (the `temporal` CLI has only the dev server; the Python SDK's wheel downloads it too), but
// Maven Central ships the same server as Java code: io.temporal:temporal-test-server. Maven fetches it and
// its dependencies into .tools/temporal-test-server/lib, and a small launcher starts it with the arguments
// the SDK passes to the native build (`<port>`).
// Order: TEMPORAL_TEST_SERVER_PATH -> project-local install -> Maven Central (java + mvn on PATH)
// -> the SDK's own download at run time (machines with internet only).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { TOOLS_DIR, onPath, recordToolPath, giveUp } = require('./tool-path');

// The Java SDK release whose test server matches the TypeScript SDK's time-skipping API (testservice v1).
const TEST_SERVER_VERSION = '1.32.1';
const LOCAL_DIR = path.join(TOOLS_DIR, 'temporal-test-server');
const LIB_DIR = path.join(LOCAL_DIR, 'lib');
const LOCAL_BIN = path.join(LOCAL_DIR, 'bin', 'temporal-test-server');
const VERSION_FILE = path.join(LOCAL_DIR, 'VERSION');
// Changes whenever what is installed changes (the server, the jars beside it): an older install is redone.
const INSTALL_ID = `${TEST_SERVER_VERSION}+slf4j-nop`;
const RECORD = path.join(TOOLS_DIR, 'temporal-test-server-path');

function javaCommand() {
  if (process.env.JAVA_HOME) {
    const fromHome = path.join(process.env.JAVA_HOME, 'bin', 'java');
    if (fs.existsSync(fromHome)) return fromHome;
  }
  return onPath('java');
}

function installedVersion() {
  try {
    if (!fs.existsSync(LOCAL_BIN)) return undefined;
    if (!fs.readdirSync(LIB_DIR).some((f) => f.startsWith(`temporal-test-server-${TEST_SERVER_VERSION}`)))
      return undefined;
    return fs.readFileSync(VERSION_FILE, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function pomFor(version) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/install-temporal-test-server.js: only used to fetch the test server's jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.layers-onboarding</groupId>
  <artifactId>temporal-test-server-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${version}</version>
    </dependency>
    <!-- The server logs through slf4j-api and ships no binding: without one it warns on every start. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
`;
}

// A launcher rather than a fixed `java -cp ...` line: the SDK runs `<exe> <port>` and stops the process it
// started, so `exec` keeps the JVM as that very process.
const LAUNCHER = `#!/bin/sh
# Written by scripts/install-temporal-test-server.js. Usage: temporal-test-server <port> [--enable-time-skipping]
here=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then java="$JAVA_HOME/bin/java"; else java=java; fi
exec "$java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"
`;

function installFromMaven() {
  if (!javaCommand()) return 'no java on PATH (or JAVA_HOME)';
  const mvn = onPath('mvn');
  if (!mvn) return 'no mvn on PATH';
  fs.rmSync(LOCAL_DIR, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(LOCAL_BIN), { recursive: true });
  const pom = path.join(LOCAL_DIR, 'pom.xml');
  fs.writeFileSync(pom, pomFor(TEST_SERVER_VERSION));
  const res = spawnSync(
    mvn,
    [
      '-q',
      '-B',
      '-f',
      pom,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${LIB_DIR}`,
      '-DincludeScope=runtime',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
  );
  if (res.error) return `mvn: ${res.error.message}`;
  if (res.status !== 0) {
    const out = `${res.stdout || ''}\n${res.stderr || ''}`.trim().split('\n').slice(-3).join(' | ');
    return `mvn exited ${res.status}: ${out}`;
  }
  fs.writeFileSync(LOCAL_BIN, LAUNCHER, { mode: 0o755 });
  fs.writeFileSync(VERSION_FILE, INSTALL_ID + '\n');
  return undefined;
}

function record(bin, how) {
  return recordToolPath(RECORD, bin, () => `temporal test server: ${bin} (${how})`);
}

function ensureTemporalTestServer() {
  const failures = [];
  if (process.env.TEMPORAL_TEST_SERVER_PATH) {
    if (fs.existsSync(process.env.TEMPORAL_TEST_SERVER_PATH)) {
      return record(process.env.TEMPORAL_TEST_SERVER_PATH, 'TEMPORAL_TEST_SERVER_PATH');
    }
    failures.push(`TEMPORAL_TEST_SERVER_PATH=${process.env.TEMPORAL_TEST_SERVER_PATH} does not exist`);
  }
  if (installedVersion() === INSTALL_ID && javaCommand()) {
    return record(LOCAL_BIN, `project-local, io.temporal:temporal-test-server ${TEST_SERVER_VERSION}`);
  }
  const maven = installFromMaven();
  if (!maven && installedVersion() === INSTALL_ID) {
    return record(
      LOCAL_BIN,
      `installed from Maven Central io.temporal:temporal-test-server ${TEST_SERVER_VERSION}`,
    );
  }
  failures.push(`Maven Central io.temporal:temporal-test-server: ${maven || 'installed but incomplete'}`);

  return giveUp(
    RECORD,
    'temporal test server: could not find or install it; the time-skipping tests fall back to the SDK download (needs internet).',
    failures,
    'install java and maven, or set TEMPORAL_TEST_SERVER_PATH to a temporal-test-server executable.',
  );
}

module.exports = { ensureTemporalTestServer, TEST_SERVER_VERSION, RECORD };

if (require.main === module) {
  ensureTemporalTestServer();
}
