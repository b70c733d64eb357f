import {
  log,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { layersReadQueue } from '../common/ids';
import {
  DEFAULT_MAX_ITEMS_PER_KIND,
  DRIFT_KINDS,
  MAX_ITEMS_PER_KIND,
  addDrift,
  mergeTallies,
  type ReconcileInput,
  type ReconcileReport,
} from '../common/reconcile';
import { NON_RETRYABLE_FAILURES } from './layers-activities';

/** Items per kind shown in the Web UI's current details (the result carries up to maxItemsPerKind). */
const DETAILS_ITEMS_PER_KIND = 20;

function scanOptions(): ActivityOptions {
  return {
    // Layers reads, so the read queue the server paces for the key's budget.
    taskQueue: layersReadQueue(workflowInfo().taskQueue),
    // A scan of many thousand orgs takes a while; a dead worker is noticed by the heartbeat instead.
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 20,
      nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURES, 'ReconcileNotConfigured'],
    },
  };
}

function markdown(report: ReconcileReport): string {
  const lines = [
    `**Reconciliation** ${report.total === 0 ? 'found no drift' : `found ${report.total} drift item${report.total === 1 ? '' : 's'}`}`,
    '',
    `${report.scanned.organizations} child orgs in ${report.scanned.pages} pages, ${report.scanned.customers} with their customer (${report.scanned.runningCustomers} running customers with an org, ${report.scanned.customersChecked} looked up), ${report.scanned.wallets} wallets read; firehose ${report.firehoseUrl ?? 'not configured (LAYERS_FIREHOSE_URL)'}`,
    '',
    '| drift | count |',
    '| --- | ---: |',
    ...DRIFT_KINDS.map((kind) => `| ${kind} | ${report.counts[kind]} |`),
  ];
  for (const kind of DRIFT_KINDS) {
    const items = report.items[kind];
    if (items.length === 0) continue;
    lines.push('', `**${kind}**`, '');
    for (const item of items.slice(0, DETAILS_ITEMS_PER_KIND)) {
      lines.push(`- ${item.externalId ? `\`${item.externalId}\` ` : ''}${item.detail}`);
    }
    if (report.counts[kind] > DETAILS_ITEMS_PER_KIND) {
      lines.push(
        `- … ${report.counts[kind] - DETAILS_ITEMS_PER_KIND} more (\`npm run onboard -- reconcile --json\`)`,
      );
    }
  }
  lines.push(
    '',
    'Drift is only reported. `npm run onboard -- repair adopt <externalId>` adopts an org without a customer.',
  );
  return lines.join('\n');
}

/**
 * Nightly reconciliation (the `layers-reconcile` schedule, or `onboard reconcile`): compares every
 * child org in Layers with the customer workflows and reports drift. It repairs nothing. The result is
 * bounded — exact counts and the first `maxItemsPerKind` items of each kind — so history stays small
 * however many customers there are.
 */
export async function reconcile(input: ReconcileInput = {}): Promise<ReconcileReport> {
  const maxItemsPerKind = Math.min(
    Math.max(Math.floor(input.maxItemsPerKind ?? DEFAULT_MAX_ITEMS_PER_KIND), 0),
    MAX_ITEMS_PER_KIND,
  );
  const startedAt = new Date().toISOString();
  setCurrentDetails('**Reconciliation** running: scanning every child org and its customer workflow…');
  const { scanForDrift, findCustomersWithoutOrg, checkFirehoseEndpoint } =
    proxyActivities<Activities>(scanOptions());
  // Customers are this deployment's: the customer workflows on this workflow's task queue.
  const { taskQueue } = workflowInfo();
  const orgsThenCustomers = async () => {
    const scan = await scanForDrift.executeWithOptions(
      { ...scanOptions(), summary: 'Scan every child org for drift' },
      [{ maxItemsPerKind, checkWallets: input.checkWallets ?? true, taskQueue }],
    );
    const customers = await findCustomersWithoutOrg.executeWithOptions(
      { ...scanOptions(), summary: 'Find running customers whose org Layers does not know' },
      [{ maxItemsPerKind, taskQueue, matched: scan.scanned.customers }],
    );
    mergeTallies(scan.tally, customers.tally, maxItemsPerKind);
    return {
      ...scan,
      scanned: {
        ...scan.scanned,
        runningCustomers: customers.runningCustomers,
        customersChecked: customers.checked,
      },
    };
  };
  const [scan, firehose] = await Promise.all([
    orgsThenCustomers(),
    checkFirehoseEndpoint.executeWithOptions(
      {
        ...scanOptions(),
        heartbeatTimeout: undefined,
        startToCloseTimeout: '1 minute',
        summary: 'Check the firehose endpoint',
      },
      [],
    ),
  ]);
  const tally = scan.tally;
  if (firehose && !firehose.found) {
    addDrift(
      tally,
      {
        kind: 'missing-firehose-endpoint',
        detail: `no all_children webhook endpoint for ${firehose.url} (LAYERS_FIREHOSE_URL)`,
      },
      maxItemsPerKind,
    );
  }
  const total = DRIFT_KINDS.reduce((sum, kind) => sum + tally.counts[kind], 0);
  const report: ReconcileReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    total,
    truncated: DRIFT_KINDS.some((kind) => tally.counts[kind] > tally.items[kind].length),
    maxItemsPerKind,
    scanned: scan.scanned,
    firehoseUrl: firehose?.url ?? null,
    counts: tally.counts,
    items: tally.items,
  };
  setCurrentDetails(markdown(report));
  log.info('reconcile: done', { total, counts: report.counts });
  return report;
}
