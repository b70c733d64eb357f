import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { quietLogger } from '../../scripts/quiet-logger';

declare global {
  var __TEMPORAL_DEV_SERVER__: DevServer | undefined;
}

/** One real dev server and one workflow bundle for the whole run; tests read where they are from the env. */
export default async function globalSetup(): Promise<void> {
  const [server, bundle] = await Promise.all([
    // A low continue-as-new suggestion so the lifecycle tests see the customer workflow roll over.
    startDevServer({ uiPort: false, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 150 } }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger }),
  ]);
  globalThis.__TEMPORAL_DEV_SERVER__ = server;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layers-tests-'));
  const codePath = path.join(dir, 'workflow-bundle.js');
  writeFileSync(codePath, bundle.code);
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TEST_TEMPORAL_NAMESPACE = server.namespace;
  process.env.TEST_WORKFLOW_BUNDLE = codePath;
  process.env.TEST_TMP_DIR = dir;
}
