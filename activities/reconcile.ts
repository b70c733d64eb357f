import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { externalIdSchema } from '../common/onboarding-input';
import {
  addDrift,
  emptyTally,
  walletShortfall,
  type DriftTally,
  type ReconcileScanned,
} from '../common/reconcile';
import { LayersCustomerId, LayersLifecycleState, LayersOrgId } from '../common/search-attributes';
import {
  CONTINUED_AS_NEW_STATUS,
  keywordAttribute,
  listExecutionsPage,
  VISIBILITY_PAGE_SIZE,
  WORKFLOW_STATUS_NAMES,
} from '../common/visibility';
import { LayersApiError, type LayersClient, type Organization } from './layers';
import { callOptions, layersCall } from './layers-call';

/** The API's largest page of organizations; credit events allow 100. */
export const ORGANIZATIONS_PAGE_SIZE = 200;
const CREDIT_EVENTS_PAGE_SIZE = 100;

export interface ReconcileDeps {
  layers: LayersClient;
  /** Reads customer workflows from Temporal visibility; absent, the scan cannot run. */
  temporalClient?: Client;
  /** LAYERS_FIREHOSE_URL: the partner-level endpoint every customer's events go to, when configured. */
  firehoseUrl?: string;
}

/** The scan's progress, heartbeated after every page: a retried attempt resumes from `cursor`. */
export interface ScanProgress {
  cursor: string | null;
  done: boolean;
  scanned: ReconcileScanned;
  tally: DriftTally;
}

export interface ScanInput {
  maxItemsPerKind: number;
  checkWallets: boolean;
  /** The task queue customer workflows run on (the reconcile workflow's own). */
  taskQueue: string;
}

export interface MissingOrgsInput {
  maxItemsPerKind: number;
  taskQueue: string;
  /** Running customers the org scan matched to an org: when visibility counts no more, none is missing. */
  matched: number;
}

/** The customer pass's progress: visibility's page token (base64) and the tally so far. */
interface CustomerPassProgress {
  pageToken: string | null;
  checked: number;
  tally: DriftTally;
}

/** The latest customer workflow of one externalId, as visibility shows it. */
interface CustomerSeen {
  externalId: string;
  /** RUNNING, COMPLETED (archived), FAILED, TERMINATED, … */
  status: string;
  state?: string;
  orgId?: string;
}

/**
 * This deployment's customers: the customer workflows on the worker's task queue (TEMPORAL_TASK_QUEUE),
 * so two orchestrators sharing a namespace (or test suites sharing a dev server) never see each other's.
 */
function customersOfDeployment(taskQueue: string): string {
  return `WorkflowType = 'customerLifecycle' AND TaskQueue = '${taskQueue.replace(/'/g, '')}'`;
}

/**
 * The customer workflows of one page of orgs, in one visibility query (`LayersCustomerId IN (…)`), so
 * the scan never holds every customer in memory. Per externalId the newest execution that did not
 * continue-as-new wins (a failed run may have been started again).
 */
async function customersOf(
  client: Client,
  taskQueue: string,
  externalIds: string[],
): Promise<Map<string, CustomerSeen>> {
  const found = new Map<string, CustomerSeen & { startedAt: number }>();
  if (externalIds.length === 0) return found;
  // externalIdSchema (letters, digits, . _ -) makes every id a safe string literal.
  const list = externalIds.map((id) => `'${id}'`).join(', ');
  const query = `${customersOfDeployment(taskQueue)} AND ${LayersCustomerId.name} IN (${list})`;
  let nextPageToken: Uint8Array | undefined;
  do {
    const response = await listExecutionsPage(client, query, VISIBILITY_PAGE_SIZE, nextPageToken);
    for (const raw of response.executions) {
      if (Number(raw.status) === CONTINUED_AS_NEW_STATUS) continue;
      const fields = raw.searchAttributes?.indexedFields;
      const externalId = keywordAttribute(fields, LayersCustomerId.name);
      if (!externalId) continue;
      const startedAt =
        Number(raw.startTime?.seconds ?? 0) * 1_000 + Math.floor((raw.startTime?.nanos ?? 0) / 1e6);
      const previous = found.get(externalId);
      if (previous && previous.startedAt > startedAt) continue;
      found.set(externalId, {
        externalId,
        status: WORKFLOW_STATUS_NAMES[Number(raw.status)] ?? String(raw.status),
        state: keywordAttribute(fields, LayersLifecycleState.name),
        orgId: keywordAttribute(fields, LayersOrgId.name),
        startedAt,
      });
    }
    nextPageToken = response.nextPageToken;
  } while (nextPageToken);
  return found;
}

/** 429s in a row waited out inside the scan before the attempt gives up (and resumes from its heartbeat). */
const MAX_RATE_LIMIT_WAITS = 20;

/**
 * One Layers read of the scan. A scan makes thousands of reads in one activity, which the read queue's
 * pacing (per activity) cannot spread out; a 429 is therefore waited out here, for its Retry-After,
 * heartbeating, rather than failing the attempt and rereading from the last heartbeat.
 */
async function read<T>(fn: () => Promise<T>, beat: () => void): Promise<T> {
  for (let waits = 0; ; waits++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof LayersApiError) || err.status !== 429 || waits >= MAX_RATE_LIMIT_WAITS) throw err;
      beat();
      await Context.current().sleep(err.retryAfterMs ?? 1_000);
    }
  }
}

/** Every ledger event of a child org, oldest pages last (the API lists newest first). */
async function ledgerOf(
  layers: LayersClient,
  orgId: string,
  beat: () => void,
): Promise<Array<{ eventType: string; credits: number }>> {
  const events: Array<{ eventType: string; credits: number }> = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await layers.listCreditEvents(
      orgId,
      { limit: CREDIT_EVENTS_PAGE_SIZE, cursor },
      callOptions(),
    );
    for (const e of page.items) events.push({ eventType: e.eventType, credits: e.credits });
    beat();
    if (page.nextCursor === null) return events;
    cursor = page.nextCursor;
  }
}

/**
 * The balance and the ledger, read while neither moved: the balance is read before and after the
 * ledger, and a wallet that changed in between (a refill or a settlement racing the reads) is read
 * again. One that keeps changing is skipped (null) rather than judged on a torn read.
 */
async function steadyWallet(
  layers: LayersClient,
  orgId: string,
  beat: () => void,
): Promise<{ balance: number; ledger: Array<{ eventType: string; credits: number }> } | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = await read(() => layers.getCredits(orgId, callOptions()), beat);
    const ledger = await ledgerOf(layers, orgId, beat);
    const after = await read(() => layers.getCredits(orgId, callOptions()), beat);
    if (before.balance === after.balance) return { balance: after.balance, ledger };
  }
  return null;
}

/** The drift one org shows against its customer workflow (if any). Returns whether the wallet should be read. */
function classify(
  org: Organization,
  customer: CustomerSeen | undefined,
  tally: DriftTally,
  max: number,
): boolean {
  const externalId = org.metadata?.externalId;
  const base = { orgId: org.id, ...(externalId ? { externalId } : {}) };
  const running = customer?.status === 'RUNNING';
  const owns = running && (customer.orgId === undefined || customer.orgId === org.id);
  if (org.status !== 'archived' && !owns) {
    const why = !externalId
      ? 'has no metadata.externalId'
      : !customer
        ? `no customer workflow for ${externalId}`
        : !running
          ? `customer workflow for ${externalId} is ${customer.status}${customer.state ? ` (state ${customer.state})` : ''}`
          : `customer ${externalId} owns ${customer.orgId} instead`;
    addDrift(
      tally,
      { kind: 'org-without-customer', ...base, detail: `${org.status} org ${org.id} ${why}` },
      max,
    );
    return false;
  }
  // Onboarding has not reported its org yet (or this is not the customer's org): nothing to compare.
  if (!running || customer.orgId !== org.id) return false;
  const state = customer.state ?? 'unknown';
  if (org.status === 'archived' && state !== 'offboarding' && state !== 'archived') {
    addDrift(
      tally,
      {
        kind: 'customer-org-archived',
        ...base,
        detail: `customer is ${state} but org ${org.id} was archived in Layers`,
      },
      max,
    );
    return false;
  }
  if (org.status === 'suspended' && state === 'active') {
    addDrift(
      tally,
      {
        kind: 'customer-org-suspended',
        ...base,
        detail: `customer is active but org ${org.id} is suspended in Layers`,
      },
      max,
    );
  }
  return org.status !== 'archived' && (state === 'active' || state === 'suspended');
}

function requireClient(deps: ReconcileDeps): Client {
  if (deps.temporalClient) return deps.temporalClient;
  throw ApplicationFailure.create({
    type: 'ReconcileNotConfigured',
    nonRetryable: true,
    message: 'this worker has no Temporal client for visibility queries (ActivityDeps.temporalClient)',
  });
}

/** Reconciliation reads: every child org (paged, resumable), its customer workflow, its wallet; the firehose. */
export function createReconcileActivities(deps: ReconcileDeps) {
  const { layers } = deps;
  return {
    /**
     * Pages every child org at the largest page size and compares each with its customer workflow in
     * visibility. Heartbeats its progress (cursor + bounded tally) after each page, so a retry after a
     * crash or a timeout resumes where the last heartbeat left off instead of starting over.
     */
    async scanForDrift(input: ScanInput): Promise<ScanProgress> {
      const client = requireClient(deps);
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as ScanProgress | undefined;
      let progress: ScanProgress = resumed ?? {
        cursor: null,
        done: false,
        scanned: {
          organizations: 0,
          customers: 0,
          runningCustomers: 0,
          customersChecked: 0,
          wallets: 0,
          pages: 0,
        },
        tally: emptyTally(),
      };
      if (resumed)
        ctx.log.info('reconcile: resuming the scan from its last heartbeat', {
          pages: resumed.scanned.pages,
        });
      while (!progress.done) {
        const before = progress;
        // Within a page, heartbeat the progress from before it: a retry re-reads the whole page.
        const beat = () => ctx.heartbeat(before);
        const page = await layersCall(() =>
          read(
            () =>
              layers.listOrganizations(
                { limit: ORGANIZATIONS_PAGE_SIZE, cursor: before.cursor ?? undefined },
                callOptions(),
              ),
            beat,
          ),
        );
        const ids = [
          ...new Set(
            page.items
              .map((o) => o.metadata?.externalId)
              .filter((id): id is string => externalIdSchema.safeParse(id).success),
          ),
        ];
        const customers = await customersOf(client, input.taskQueue, ids);
        beat();
        const tally: DriftTally = structuredClone(before.tally);
        const scanned = { ...before.scanned, pages: before.scanned.pages + 1 };
        for (const org of page.items) {
          scanned.organizations += 1;
          const externalId = org.metadata?.externalId;
          const customer = externalId ? customers.get(externalId) : undefined;
          if (customer?.status === 'RUNNING' && customer.orgId === org.id) scanned.customers += 1;
          const readWallet = classify(org, customer, tally, input.maxItemsPerKind);
          if (!readWallet || !input.checkWallets) continue;
          const wallet = await layersCall(() => steadyWallet(layers, org.id, beat));
          if (!wallet) continue;
          scanned.wallets += 1;
          const { balance } = wallet;
          const { allocated, spent, shortfall } = walletShortfall(balance, wallet.ledger);
          if (shortfall > 0) {
            addDrift(
              tally,
              {
                kind: 'wallet-below-allocated',
                orgId: org.id,
                ...(externalId ? { externalId } : {}),
                detail: `balance ${balance} + spent ${spent} is ${shortfall} below the ${allocated} allocated`,
              },
              input.maxItemsPerKind,
            );
          }
        }
        progress = { cursor: page.nextCursor, done: page.nextCursor === null, scanned, tally };
        ctx.heartbeat(progress);
      }
      return progress;
    },

    /**
     * The other direction: every running customer whose org the org scan did not meet. Visibility counts
     * them first; only when it counts more than the scan matched are they paged (1,000 a page, the
     * page token heartbeated) and each org looked up — a 404 is `customer-org-missing`.
     */
    async findCustomersWithoutOrg(
      input: MissingOrgsInput,
    ): Promise<{ runningCustomers: number; checked: number; tally: DriftTally }> {
      const client = requireClient(deps);
      const ctx = Context.current();
      const query = `${customersOfDeployment(input.taskQueue)} AND ExecutionStatus = 'Running' AND ${LayersOrgId.name} IS NOT NULL`;
      const { count } = await client.workflow.count(query);
      if (count <= input.matched) return { runningCustomers: count, checked: 0, tally: emptyTally() };
      let progress: CustomerPassProgress = (ctx.info.heartbeatDetails as
        CustomerPassProgress | undefined) ?? {
        pageToken: null,
        checked: 0,
        tally: emptyTally(),
      };
      for (;;) {
        const before = progress;
        const beat = () => ctx.heartbeat(before);
        const response = await listExecutionsPage(
          client,
          query,
          VISIBILITY_PAGE_SIZE,
          before.pageToken ? Buffer.from(before.pageToken, 'base64') : undefined,
        );
        const tally = structuredClone(before.tally);
        let checked = before.checked;
        for (const raw of response.executions) {
          const fields = raw.searchAttributes?.indexedFields;
          const orgId = keywordAttribute(fields, LayersOrgId.name);
          const externalId = keywordAttribute(fields, LayersCustomerId.name);
          if (!orgId) continue;
          checked += 1;
          const missing = await layersCall(() =>
            read(() => layers.getOrganization(orgId, callOptions()), beat).then(
              () => false,
              (err: unknown) => {
                if (err instanceof LayersApiError && err.status === 404) return true;
                throw err;
              },
            ),
          );
          if (missing) {
            addDrift(
              tally,
              {
                kind: 'customer-org-missing',
                orgId,
                ...(externalId ? { externalId } : {}),
                detail: `customer is ${keywordAttribute(fields, LayersLifecycleState.name) ?? 'running'} but Layers has no org ${orgId}`,
              },
              input.maxItemsPerKind,
            );
          }
        }
        const next = response.nextPageToken ? Buffer.from(response.nextPageToken).toString('base64') : null;
        progress = { pageToken: next, checked, tally };
        ctx.heartbeat(progress);
        if (!next) return { runningCustomers: count, checked, tally };
      }
    },

    /** Whether the partner-level firehose endpoint exists; null when LAYERS_FIREHOSE_URL is not configured. */
    async checkFirehoseEndpoint(): Promise<{ url: string; found: boolean } | null> {
      const url = deps.firehoseUrl;
      if (!url) return null;
      return layersCall(async () => {
        for await (const endpoint of layers.listAllWebhookEndpoints(callOptions())) {
          if (endpoint.url === url && endpoint.scope === 'all_children') return { url, found: true };
        }
        return { url, found: false };
      });
    },
  };
}
