/**
 * `npm run bench -- [--customers N] [--concurrency C] [--latency-ms L] [--tier T] [--json FILE]`
 *
 * Starts a Temporal dev server, the Layers emulator (in this process) and a worker (its own process:
 * bench/worker-process.ts), runs N onboardings through the bulk-import runner, and reports, headline first:
 * - onboardings/s over the 10–90 % window of completions (the ramp and the tail left out; the whole-run
 *   rate is given beside it), latency percentiles;
 * - the orchestration overhead split: fixed (client start → first Layers call, plus last Layers call →
 *   the client holding the result) and between steps (see `timeline` in bench/stats.ts: time between the
 *   first and last call when none of the onboarding's steps is in a Layers call; steps that overlap cost 0),
 *   the latter per step and per onboarding;
 * - dev server and worker CPU per onboarding; the worker's RSS once bundled and polling, and its peak
 *   during the measured run (webpack's bundling peak is reported apart);
 * - per onboarding, from the histories of a sample of customers (customer workflow and its children):
 *   events, workflow tasks, activity tasks, local activities, search-attribute upserts, signals, updates;
 * - Layers calls per onboarding, 429s, duplicates, the sustained write rate against the tier's budget;
 * - issue 12's targets, each with the measured value and a verdict (bench/targets.ts).
 * Then, in the same run, the baseline: the same N onboardings by a plain script (same activity code, same
 * client, no Temporal) that persists each step to a progress file (bench/baseline.ts).
 *
 * Extra knobs for the measurements in bench/RESULTS.md: --warmup W, --no-baseline, --local-activities,
 * --max-cached-workflows N, --max-concurrent-wft N, --max-concurrent-activities N, --headroom H,
 * --dev-config KEY=JSON (repeatable: extra dynamic config for the dev server), --history-sample N
 * (customers whose histories are counted; default 20, 0 = off), --baseline-persistence fsync|write|off
 * (default fsync).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { LayersClient } from '../activities/layers';
import { FileSecretSink } from '../activities/secret-sink';
import { OnboardingClient } from '../client';
import { createProgressRenderer } from '../client/import/progress';
import { BulkRun, type Outcome } from '../client/import/runner';
import type { ValidRow } from '../client/import/rows';
import { startEmulator, type BuiltinTier } from '../emulator';
import { freePort, startDevServer } from '../scripts/dev-server';
import { recordedTemporalCli } from '../scripts/temporal-cli';
import { TIER_BUDGETS } from '../worker/pacing';
import { parseOnboardingInput, type OnboardingRequest } from '../common/onboarding-input';
import { runBaseline, type BaselinePersistence } from './baseline';
import { sampleCounts } from './histories';
import { percentile, round, sustainedRate, timeline, windowRate, type Sample } from './stats';
import { evaluateTargets, type TargetLine } from './targets';
import type { StepRecord, WorkerMessage } from './worker-process';
import { customerWorkflowId, onboardingWorkflowId } from '../common/ids';
import { isLocalApiOrigin } from '../common/webhook-url';

const TIERS: BuiltinTier[] = ['standard', 'pilot', 'partner', 'unlimited'];

/**
 * Dynamic config the benchmark's dev server runs with (on top of scripts/dev-server.ts's), each overridable
 * with --dev-config (bench/RESULTS.md has the runs):
 * - The search attributes are registered at start-up and never change during a run, so re-reading their
 *   definitions from SQLite on every read (the tests' setting) only costs: off, it took ~5 % of the dev
 *   server's CPU out and, because the in-memory SQLite store serialises every query on one connection,
 *   raised 300 onboardings at concurrency 50 from 2.86–2.99/s to 3.69–3.72/s.
 * - One partition per task queue: the server splits a queue's maxTaskQueueActivitiesPerSecond across its
 *   partitions (4 by default) and a partition whose backlog runs dry wastes its share, so the paced write
 *   queue delivered 92.5 % of the pilot budget instead of the 97 % it is paced to (97.1 % with one). One
 *   host needs no partitions: 300 onboardings went 3.69/s → 3.92/s, p95 latency 18.1 s → 14.6 s.
 */
export const BENCH_DEV_CONFIG: Record<string, string | number | boolean> = {
  'system.forceSearchAttributesCacheRefreshOnRead': false,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

export interface BenchOptions {
  customers: number;
  concurrency: number;
  latencyMs: number;
  tier: BuiltinTier;
  json?: string;
  warmup: number;
  baseline: boolean;
  localActivities: boolean;
  /** The import runner's status-query poll for 'waiting' onboardings (default 2000; 0 = off). */
  waitingPollMs?: number;
  tuning: {
    maxCachedWorkflows?: number;
    maxConcurrentWorkflowTaskExecutions?: number;
    maxConcurrentActivityTaskExecutions?: number;
  };
  headroom?: number;
  /** Extra dynamic config for the dev server (--dev-config key=value, repeatable). */
  devConfig: Record<string, string | number | boolean>;
  /** Customers whose histories are counted after the run (0 = none). */
  historySample: number;
  baselinePersistence: BaselinePersistence;
}

const PERSISTENCE: BaselinePersistence[] = ['fsync', 'write', 'off'];

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      customers: { type: 'string' },
      concurrency: { type: 'string' },
      'latency-ms': { type: 'string' },
      tier: { type: 'string' },
      json: { type: 'string' },
      warmup: { type: 'string' },
      'no-baseline': { type: 'boolean' },
      'local-activities': { type: 'boolean' },
      'waiting-poll-ms': { type: 'string' },
      'max-cached-workflows': { type: 'string' },
      'max-concurrent-wft': { type: 'string' },
      'max-concurrent-activities': { type: 'string' },
      headroom: { type: 'string' },
      'dev-config': { type: 'string', multiple: true },
      'history-sample': { type: 'string' },
      'baseline-persistence': { type: 'string' },
    },
    strict: true,
  });
  const int = (
    name: string,
    value: string | undefined,
    fallback: number | undefined,
    min = 0,
  ): number | undefined => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name}: must be a whole number ≥ ${min} (got "${value}")`);
    return n;
  };
  const tier = (values.tier ?? 'unlimited') as BuiltinTier;
  if (!TIERS.includes(tier)) throw new Error(`--tier: one of ${TIERS.join(', ')} (got "${values.tier}")`);
  const baselinePersistence = (values['baseline-persistence'] ?? 'fsync') as BaselinePersistence;
  if (!PERSISTENCE.includes(baselinePersistence))
    throw new Error(
      `--baseline-persistence: one of ${PERSISTENCE.join(', ')} (got "${values['baseline-persistence']}")`,
    );
  const headroom = values.headroom === undefined ? undefined : Number(values.headroom);
  if (headroom !== undefined && !(headroom > 0 && headroom <= 1))
    throw new Error('--headroom: a number in (0, 1]');
  return {
    customers: int('customers', values.customers, 200, 1)!,
    concurrency: int('concurrency', values.concurrency, 50, 1)!,
    latencyMs: int('latency-ms', values['latency-ms'], 0)!,
    tier,
    json: values.json,
    warmup: int('warmup', values.warmup, 20)!,
    baseline: !values['no-baseline'],
    localActivities: Boolean(values['local-activities']),
    waitingPollMs: int('waiting-poll-ms', values['waiting-poll-ms'], undefined),
    tuning: {
      maxCachedWorkflows: int('max-cached-workflows', values['max-cached-workflows'], undefined),
      maxConcurrentWorkflowTaskExecutions: int(
        'max-concurrent-wft',
        values['max-concurrent-wft'],
        undefined,
        1,
      ),
      maxConcurrentActivityTaskExecutions: int(
        'max-concurrent-activities',
        values['max-concurrent-activities'],
        undefined,
        1,
      ),
    },
    headroom,
    historySample: int('history-sample', values['history-sample'], 20)!,
    baselinePersistence,
    devConfig: {
      ...BENCH_DEV_CONFIG,
      ...Object.fromEntries(
        (values['dev-config'] ?? []).map((pair) => {
          const eq = pair.indexOf('=');
          if (eq < 1) throw new Error(`--dev-config: KEY=VALUE (got "${pair}")`);
          const raw = pair.slice(eq + 1);
          let value: string | number | boolean;
          try {
            value = JSON.parse(raw) as string | number | boolean;
          } catch {
            value = raw;
          }
          return [pair.slice(0, eq), value];
        }),
      ),
    },
  };
}

/**
 * The guide's full onboarding: org, key, credits, cap and auto-refill, firehose, first project. The webhook
 * URL names a public address (TEST-NET-3) rather than a host name: the activity resolves a name before it
 * registers it, and this machine's resolver loses a query now and then (a 5 s retry), which would put
 * DNS weather, not orchestration, into both the orchestrated run's and the baseline's latency.
 */
export function benchRequest(externalId: string): OnboardingRequest {
  return {
    customer: { externalId, name: `Bench customer ${externalId}`, metadata: { source: 'bench' } },
    apiKey: { scopes: ['content:read', 'content:write'] },
    credits: 100,
    creditConfig: { monthlyCreditCap: 1_000, refillThreshold: 20, refillAmount: 50 },
    firehose: {
      url: 'https://203.0.113.10/layers/webhooks',
      events: ['content.generated', 'post.published'],
    },
    project: { name: 'First project', timezone: 'UTC' },
  };
}

function rows(prefix: string, n: number): ValidRow[] {
  return Array.from({ length: n }, (_, i) => {
    const externalId = `${prefix}-${String(i).padStart(5, '0')}`;
    const request = benchRequest(externalId);
    const parsed = parseOnboardingInput(request);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    return { line: i + 1, externalId, request, input: parsed.value };
  });
}

type ByRoute = Record<string, Record<string, number>>;

function countCalls(byRoute: ByRoute): { read: number; write: number; rateLimited: number } {
  let read = 0;
  let write = 0;
  let rateLimited = 0;
  for (const [route, byStatus] of Object.entries(byRoute)) {
    for (const [status, n] of Object.entries(byStatus)) {
      if (status === '429') rateLimited += n;
      else if (route.startsWith('GET ')) read += n;
      else write += n;
    }
  }
  return { read, write, rateLimited };
}

function diffByRoute(after: ByRoute, before: ByRoute): ByRoute {
  const out: ByRoute = {};
  for (const [route, byStatus] of Object.entries(after)) {
    for (const [status, n] of Object.entries(byStatus)) {
      const d = n - (before[route]?.[status] ?? 0);
      if (d) (out[route] ??= {})[status] = d;
    }
  }
  return out;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function duplicates(
  state: any,
  externalIds: Set<string>,
): { orgs: number; transfers: number; keys: number; missing: number } {
  const orgsByCustomer = new Map<string, string[]>();
  for (const org of state.organizations as any[]) {
    const id = org.metadata?.externalId;
    if (org.parentOrganizationId === state.parentOrganizationId && externalIds.has(id))
      orgsByCustomer.set(id, [...(orgsByCustomer.get(id) ?? []), org.id]);
  }
  const ours = new Set([...orgsByCustomer.values()].flat());
  const count = (items: any[], key: string) => {
    const m = new Map<string, number>();
    for (const it of items) if (ours.has(it[key])) m.set(it[key], (m.get(it[key]) ?? 0) + 1);
    let extra = 0;
    for (const n of m.values()) extra += n - 1;
    return extra;
  };
  let orgs = 0;
  for (const ids of orgsByCustomer.values()) orgs += ids.length - 1;
  return {
    orgs,
    transfers: count(
      (state.transfers as any[]).filter((t) => t.trigger === 'allocate'),
      'toOrganizationId',
    ),
    keys: count(state.apiKeys as any[], 'organizationId'),
    missing: externalIds.size - orgsByCustomer.size,
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** bench/worker-process.ts in its own process (startWorker inside, as worker/main.ts), spoken to over IPC. */
function spawnWorkerProcess(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  ready: Promise<Extract<WorkerMessage, { type: 'ready' }>>;
  request: () => Promise<Extract<WorkerMessage, { type: 'stats' }>>;
} {
  // BENCH_WORKER_NODE_ARGS: extra node flags for the worker only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(__dirname, 'worker-process.ts')],
    {
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const ready = new Promise<Extract<WorkerMessage, { type: 'ready' }>>((resolve, reject) => {
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') resolve(m);
      if (m.type === 'error') reject(new Error(`worker: ${m.message}`));
    });
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
  });
  const request = () =>
    new Promise<Extract<WorkerMessage, { type: 'stats' }>>((resolve) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.type !== 'stats') return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.send({ type: 'stats' });
    });
  return { child, ready, request };
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.send({ type: 'shutdown' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of a process now, in MB; Linux only (null elsewhere). */
function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far; Linux only (null elsewhere). */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    temporalCli: recordedTemporalCli() ?? 'sdk download',
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
}

async function runOnboardings(
  crm: OnboardingClient,
  list: ValidRow[],
  concurrency: number,
  waitingPollMs?: number,
): Promise<{ outcomes: Outcome[]; wallMs: number; finishedAt: Map<string, number> }> {
  const renderer = createProgressRenderer(process.stderr, { plainEveryMs: 5_000 });
  // When the client held each result (epoch ms, the clock the worker's call times use): the runner measures
  // latency up to the same moment, so finishedAt − latency is when the client began.
  const finishedAt = new Map<string, number>();
  const run = new BulkRun(crm, list, {
    concurrency,
    ...(waitingPollMs !== undefined ? { waitingPollMs } : {}),
    onOutcome: (o) => finishedAt.set(o.externalId, Date.now()),
  });
  const timer = setInterval(() => renderer.update(run.progress()), 500);
  const t0 = Date.now();
  try {
    const outcomes = await run.run();
    renderer.finish(run.progress());
    return { outcomes, wallMs: Date.now() - t0, finishedAt };
  } finally {
    clearInterval(timer);
  }
}

export async function bench(options: BenchOptions) {
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const startedAt = new Date();
  const m = machine();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'layers-bench-'));
  const runId = Date.now().toString(36);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    log(`starting the Temporal dev server, the emulator (tier ${options.tier}) and a worker…`);
    const server = await startDevServer({ uiPort: false, dynamicConfig: options.devConfig });
    cleanups.push(() => server.stop());
    const emu = await startEmulator({
      port: 0,
      quiet: true,
      tier: options.tier,
      parentCredits: (options.customers * 2 + options.warmup + 10) * 200,
    });
    cleanups.push(() => emu.close());
    if (options.latencyMs > 0) {
      emu.emulator.faults = null;
      const res = await fetch(`${emu.url}/_emulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          seed: 1,
          rules: [{ method: '*', path: '*', latencyMs: [options.latencyMs, options.latencyMs] }],
        }),
      });
      if (!res.ok) throw new Error(`emulator faults: ${res.status} ${await res.text()}`);
    }
    const taskQueue = `bench-${runId}`;
    const metricsPort = await freePort();
    const tuning = Object.fromEntries(Object.entries(options.tuning).filter(([, v]) => v !== undefined));
    const worker = spawnWorkerProcess({
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      LAYERS_API_URL: emu.url,
      LAYERS_PARENT_KEY: emu.parentKey,
      LAYERS_SECRET_SINK_DIR: path.join(tmp, 'secrets'),
      METRICS_PORT: String(metricsPort),
      ...(options.headroom ? { LAYERS_RATE_HEADROOM: String(options.headroom) } : {}),
      ...(Object.keys(tuning).length ? { BENCH_TUNING: JSON.stringify(tuning) } : {}),
      ...(options.localActivities ? { BENCH_LOCAL_ACTIVITIES: '1' } : {}),
    });
    cleanups.push(() => stopWorker(worker.child));
    const ready = await worker.ready;
    log(
      `worker ready (tier ${ready.pacing.tier}: ${ready.pacing.writeActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} write activities/s, ` +
        `${ready.pacing.readActivitiesPerSecond?.toFixed(2) ?? 'unpaced'} read activities/s${options.localActivities ? ', LOCAL activities: unpaced' : ''})`,
    );
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const temporalClient = new Client({ connection, namespace: server.namespace });
    const crm = new OnboardingClient(temporalClient, taskQueue);

    if (options.warmup > 0) {
      log(`warm-up: ${options.warmup} onboardings (not measured)`);
      await runOnboardings(
        crm,
        rows(`warm-${runId}`, options.warmup),
        Math.min(options.concurrency, options.warmup),
      );
    }

    // ---------------------------------------------------------------- the measured run
    const list = rows(`bench-${runId}`, options.customers);
    const store = () => emu.emulator.store;
    const before = structuredClone(store().requests.byRoute);
    const samples: Sample[] = [];
    const rss: number[] = [];
    const sample = () => {
      const c = countCalls(diffByRoute(store().requests.byRoute, before));
      samples.push({ t: Date.now(), writes: c.write, reads: c.read });
      const r = rssMb(worker.child.pid!);
      if (r !== null) rss.push(r);
    };
    sample();
    const sampler = setInterval(sample, 250);
    const pids = { devServer: server.pid, worker: worker.child.pid!, benchAndEmulator: process.pid };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    log(
      `measured run: ${options.customers} onboardings, concurrency ${options.concurrency}, Layers latency ${options.latencyMs} ms`,
    );
    const { outcomes, wallMs, finishedAt } = await runOnboardings(
      crm,
      list,
      options.concurrency,
      options.waitingPollMs,
    );
    clearInterval(sampler);
    sample();
    const cpuMsPerOnboarding = Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => {
        const after = cpuSeconds(pid);
        const before = cpuBefore[k];
        return [
          k,
          after === null || before === null || before === undefined
            ? null
            : round(((after - before) * 1000) / options.customers, 1),
        ];
      }),
    ) as Record<keyof typeof pids, number | null>;
    const calls = countCalls(diffByRoute(store().requests.byRoute, before));
    const state = await (await fetch(`${emu.url}/_emulator/state`)).json();
    const dup = duplicates(state, new Set(list.map((r) => r.externalId)));
    const stats = await worker.request();
    await stopWorker(worker.child);

    const completed = outcomes.filter((o) => o.state === 'completed');
    const failed = outcomes.filter((o) => o.state !== 'completed');
    const latencies = completed.map((o) => o.latencyMs!);
    const rate = windowRate(completed.map((o) => finishedAt.get(o.externalId)!));

    // Each onboarding's time line (bench/stats.ts `timeline`), from the steps the worker saw under either of
    // the customer's workflow ids (the onboarding runs in its own child today; it may run in the customer's).
    const perStep: number[] = []; // issue 7's figure: (latency − time inside Layers calls) / steps
    const fixed: number[] = [];
    const beforeFirst: number[] = [];
    const afterLast: number[] = [];
    const betweenPerStep: number[] = [];
    const betweenPerOnboarding: number[] = [];
    const betweenActivitiesPerStep: number[] = [];
    let busyMsTotal = 0;
    let layersMsTotal = 0;
    let stepsTotal = 0;
    let attemptsTotal = 0;
    let activitiesTotal = 0;
    let timed = 0;
    for (const o of completed) {
      const steps: Array<StepRecord & { workflowId: string }> = [
        customerWorkflowId(o.externalId),
        onboardingWorkflowId(o.externalId),
      ].flatMap((workflowId) => (stats.byWorkflow[workflowId] ?? []).map((st) => ({ ...st, workflowId })));
      const withCalls = steps.filter((st) => st.calls > 0);
      const end = finishedAt.get(o.externalId)!;
      const t = timeline(
        end - o.latencyMs!,
        end,
        withCalls.map((st) => ({ start: st.callsStart, end: st.callsEnd })),
        steps
          .filter((st) => Number.isFinite(st.execStart) && Number.isFinite(st.execEnd))
          .map((st) => ({ start: st.execStart, end: st.execEnd })),
      );
      if (!t) continue;
      // Steps: activities that called Layers (an attempt retried is one step; its backoff counts between steps).
      const distinct = new Set(withCalls.map((st) => `${st.workflowId}#${st.activityId}`)).size;
      timed++;
      perStep.push((o.latencyMs! - t.busyMs) / distinct);
      fixed.push(t.beforeFirstMs + t.afterLastMs);
      beforeFirst.push(t.beforeFirstMs);
      afterLast.push(t.afterLastMs);
      betweenPerOnboarding.push(t.betweenStepsMs);
      if (distinct > 1) {
        betweenPerStep.push(t.betweenStepsMs / (distinct - 1));
        betweenActivitiesPerStep.push(t.betweenActivitiesMs / (distinct - 1));
      }
      busyMsTotal += t.busyMs;
      layersMsTotal += withCalls.reduce((sum, st) => sum + st.layersMs, 0);
      stepsTotal += distinct;
      attemptsTotal += withCalls.length;
      activitiesTotal += new Set(steps.map((st) => `${st.workflowId}#${st.activityId}`)).size;
    }
    const p = (values: number[], digits = 1) => ({
      p50: round(percentile(values, 50), digits),
      p95: round(percentile(values, 95), digits),
    });
    const budget = TIER_BUDGETS[options.tier];
    const writeRate = sustainedRate(samples, 'writes');

    // What each onboarding asked of the server, from histories (after the CPU figures: it costs the server too).
    let histories: Awaited<ReturnType<typeof sampleCounts>> = null;
    if (options.historySample > 0) {
      log(`counting history events of ${Math.min(options.historySample, completed.length)} customers…`);
      histories = await sampleCounts(
        temporalClient,
        completed.map((o) => o.externalId),
        options.historySample,
      );
    }

    // ---------------------------------------------------------------- the baseline, same run
    let baseline;
    if (options.baseline) {
      emu.emulator.limiter.reset(); // a fresh bucket, as the orchestrated run had
      log(
        `baseline: the same ${options.customers} onboardings by a plain script (same client, no Temporal, progress persisted: ${options.baselinePersistence}), ${options.concurrency} at a time`,
      );
      const baseLayersMs = new Map<string, number>();
      const layers = new LayersClient({
        baseUrl: emu.url,
        apiKey: emu.parentKey,
        // The baseline runs each activity in a mock activity Context that carries the workflow id it would have had.
        onCall: (call) => {
          const id = Context.current().info.workflowExecution?.workflowId ?? '(none)';
          baseLayersMs.set(id, (baseLayersMs.get(id) ?? 0) + call.durationMs);
        },
      });
      cleanups.push(() => layers.close());
      const baseRows = rows(`base-${runId}`, options.customers);
      const baseBefore = structuredClone(store().requests.byRoute);
      const b = await runBaseline(
        {
          layers,
          secretSink: new FileSecretSink(path.join(tmp, 'baseline-secrets')),
          // The worker's policy (worker/config.ts): the emulator's loopback origin is local mode.
          webhookUrlPolicy: { localMode: isLocalApiOrigin(emu.url) },
        },
        baseRows.map((r) => r.request),
        options.concurrency,
        { file: path.join(tmp, 'baseline-progress.jsonl'), persistence: options.baselinePersistence },
      );
      const baseOverheads = b.onboardings.map(
        (o) => (o.latencyMs - (baseLayersMs.get(o.workflowId) ?? 0)) / o.steps,
      );
      if (b.failed) log(`baseline: ${b.failed} failed (${b.firstError})`);
      // The same Layers calls as the orchestrated run, or the comparison is not like with like.
      const baseCalls = countCalls(diffByRoute(store().requests.byRoute, baseBefore));
      const baseRate = windowRate(b.onboardings.map((o) => o.finishedAt));
      baseline = {
        onboardingsPerSecond: round(baseRate.perSecond, 2),
        latencyMs: {
          p50: round(percentile(b.latenciesMs, 50), 2),
          p95: round(percentile(b.latenciesMs, 95), 2),
          p99: round(percentile(b.latenciesMs, 99), 2),
        },
        failed: b.failed,
        overheadPerStepMs: p(baseOverheads, 2),
        stepsPerOnboarding: b.stepsPerOnboarding[0] ?? 0,
        callsPerOnboarding: {
          read: round(baseCalls.read / options.customers, 2),
          write: round(baseCalls.write / options.customers, 2),
        },
        onboardingsPerSecondWholeRun: round((b.latenciesMs.length * 1000) / b.wallMs, 2),
        persistence: options.baselinePersistence,
      };
    }

    const serverPlusWorkerCpuMs =
      cpuMsPerOnboarding.devServer === null || cpuMsPerOnboarding.worker === null
        ? null
        : round(cpuMsPerOnboarding.devServer + cpuMsPerOnboarding.worker, 1);
    const latencyMs = {
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
    };
    const fractionOfBudget = budget ? round((writeRate.perSecond * 60) / budget.write, 3) : null;
    const overheadSplitMs = {
      fixed: p(fixed),
      beforeFirstCall: p(beforeFirst),
      afterLastCall: p(afterLast),
      betweenStepsPerStep: p(betweenPerStep, 2),
      betweenStepsPerOnboarding: p(betweenPerOnboarding),
      // Of the gap between steps, the part when no activity of the onboarding was executing either: the
      // server round trip and workflow task; the rest is activity code outside Layers calls (URL checks,
      // secret-sink writes) that a plain script runs too.
      betweenActivitiesPerStep: p(betweenActivitiesPerStep, 2),
    };
    const targets: TargetLine[] = evaluateTargets({
      tier: options.tier,
      customers: options.customers,
      concurrency: options.concurrency,
      latencyMs: options.latencyMs,
      failed: failed.length,
      onboardingsPerSecond: rate.perSecond,
      latencyP99Ms: latencyMs.p99,
      writeBudgetFraction: fractionOfBudget,
      writesPerMinute: writeRate.perSecond * 60,
      budgetPerMinute: budget?.write ?? null,
      rateLimited: calls.rateLimited,
      duplicates: dup.orgs + dup.transfers + dup.keys,
      betweenStepsPerStepMsP50: overheadSplitMs.betweenStepsPerStep.p50,
      fixedMsP50: overheadSplitMs.fixed.p50,
      serverPlusWorkerCpuMs,
    });
    const workerRssMb = {
      afterBundling: round(ready.rssAfterBundlingMb, 1),
      duringRun: rss.length
        ? {
            start: round(rss[0]!, 1),
            peak: round(Math.max(...rss), 1),
            end: round(rss[rss.length - 1]!, 1),
          }
        : null,
      // maxRSS of the process: webpack bundling the workflows at start-up is usually its biggest moment.
      lifetimePeakIncludingBundling: round(stats.peakRssMb, 1),
    };

    const result = {
      customers: options.customers,
      // Over the 10–90 % window of completions; the whole-run rate is details.onboardingsPerSecondWholeRun.
      onboardingsPerSecond: round(rate.perSecond, 2),
      latencyMs,
      callsPerOnboarding: {
        read: round(calls.read / options.customers, 2),
        write: round(calls.write / options.customers, 2),
      },
      rateLimited: calls.rateLimited,
      duplicates: dup.orgs + dup.transfers + dup.keys,
      // (latency − time with a Layers call in flight) / steps, p50/p95 (issue 7's definition).
      overheadPerStepMs: p(perStep, 2),
      overheadSplitMs,
      cpuMsPerOnboarding: { ...cpuMsPerOnboarding, serverPlusWorker: serverPlusWorkerCpuMs },
      // Peak RSS during the measured run, i.e. after bundling (the bundling peak: workerRssMb.lifetimePeakIncludingBundling).
      workerPeakRssMb: workerRssMb.duringRun?.peak ?? null,
      workerRssMb,
      historiesPerOnboarding: histories,
      targets,
      baseline: baseline ?? null,
      // Beyond the headline: what the figures above rest on.
      details: {
        startedAt: startedAt.toISOString(),
        wallMs,
        completed: completed.length,
        failed: failed.length,
        firstFailure: failed[0]?.error ?? failed[0]?.state,
        onboardingsPerSecondWholeRun: round((completed.length * 1000) / wallMs, 2),
        rateWindow: { windowMs: rate.windowMs, completions: rate.completions },
        duplicates: dup,
        config: {
          concurrency: options.concurrency,
          latencyMs: options.latencyMs,
          tier: options.tier,
          warmup: options.warmup,
          localActivities: options.localActivities,
          waitingPollMs: options.waitingPollMs ?? 2000,
          tuning,
          headroom: options.headroom ?? 0.97,
          devConfig: options.devConfig,
          historySample: options.historySample,
          baselinePersistence: options.baseline ? options.baselinePersistence : null,
        },
        pacing: ready.pacing,
        workerStartMs: ready.startMs,
        calls: {
          read: calls.read,
          write: calls.write,
          byRoute: diffByRoute(store().requests.byRoute, before),
        },
        timedOnboardings: timed,
        // Time with at least one of the onboarding's Layers calls in flight, and the calls' summed durations.
        layersBusyMsPerOnboarding: timed ? round(busyMsTotal / timed, 1) : null,
        layersMsPerOnboarding: timed ? round(layersMsTotal / timed, 1) : null,
        stepsPerOnboarding: timed ? round(stepsTotal / timed, 2) : null,
        attemptsPerOnboarding: timed ? round(attemptsTotal / timed, 2) : null,
        // Every activity the worker ran for the onboarding (with or without a Layers call, local ones included).
        activitiesPerOnboarding: timed ? round(activitiesTotal / timed, 2) : null,
        sustainedWrites: {
          perMinute: round(writeRate.perSecond * 60, 1),
          windowMs: writeRate.windowMs,
          budgetPerMinute: budget?.write ?? null,
          fractionOfBudget,
        },
        overheadRatio: baseline ? round(percentile(latencies, 50) / baseline.latencyMs.p50, 2) : null,
        machine: m,
      },
    };
    return result;
  } finally {
    await cleanup();
  }
}

function printReport(r: Awaited<ReturnType<typeof bench>>): void {
  const d = r.details;
  const o = r.overheadSplitMs;
  const cpu = r.cpuMsPerOnboarding;
  const h = r.historiesPerOnboarding;
  const rss = r.workerRssMb;
  const lines = [
    '',
    `Layers onboarding benchmark — ${r.customers} customers, concurrency ${d.config.concurrency}, tier ${d.config.tier}, Layers latency ${d.config.latencyMs} ms${d.config.localActivities ? ', LOCAL activities' : ''}`,
    ...(Object.keys(d.config.devConfig).length
      ? [
          `dev server dynamic config: ${Object.entries(d.config.devConfig)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(', ')}`,
        ]
      : []),
    ...(Object.keys(d.config.tuning).length ? [`worker tuning: ${JSON.stringify(d.config.tuning)}`] : []),
    `machine: ${d.machine.cores} × ${d.machine.cpu}, ${d.machine.memoryGb} GB, ${d.machine.node}, load at start ${d.machine.loadAverageAtStart.join(' ')}`,
    '',
    `  onboardings/s            ${r.onboardingsPerSecond}   (10–90 % of completions: ${d.rateWindow.completions} in ${(d.rateWindow.windowMs / 1000).toFixed(1)} s; whole run ${d.onboardingsPerSecondWholeRun}/s, ${d.completed} completed, ${d.failed} failed in ${(d.wallMs / 1000).toFixed(1)} s)`,
    `  latency p50/p95/p99      ${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99} ms`,
    `  fixed orchestration      ${o.fixed.p50} / ${o.fixed.p95} ms p50/p95   (start → first Layers call ${o.beforeFirstCall.p50}, last call → result seen ${o.afterLastCall.p50} ms, p50)`,
    `  between steps, per step  ${o.betweenStepsPerStep.p50} / ${o.betweenStepsPerStep.p95} ms p50/p95   (${o.betweenStepsPerOnboarding.p50} ms per onboarding over ${d.stepsPerOnboarding} steps; overlapping steps count 0; with no activity running ${o.betweenActivitiesPerStep.p50} ms per step)`,
    `  inside Layers            ${d.layersBusyMsPerOnboarding} ms per onboarding with a call in flight (calls' summed time ${d.layersMsPerOnboarding} ms; ${d.attemptsPerOnboarding} attempts)`,
    `  CPU ms per onboarding    dev server ${cpu.devServer} + worker ${cpu.worker} = ${cpu.serverPlusWorker}   (bench + emulator ${cpu.benchAndEmulator})`,
    `  worker RSS               ${rss.afterBundling} MB bundled and polling; measured run ${rss.duringRun ? `${rss.duringRun.start} → peak ${rss.duringRun.peak} → ${rss.duringRun.end}` : 'n/a'} MB   (lifetime peak with bundling ${rss.lifetimePeakIncludingBundling} MB)`,
    h
      ? `  per onboarding (history) ${h.perOnboarding.events} events, ${h.perOnboarding.workflowTasks} workflow tasks, ${h.perOnboarding.activityTasks} activity tasks, ${h.perOnboarding.localActivities} local activities, ${h.perOnboarding.searchAttributeUpserts} search-attribute upserts, ${h.perOnboarding.signals} signals, ${h.perOnboarding.updates} updates, ${h.perOnboarding.executions} executions   (${h.sampled} customers sampled${h.perOnboarding.workflowTaskFailures ? `; ${h.perOnboarding.workflowTaskFailures} failed/timed-out workflow tasks` : ''})`
      : '  per onboarding (history) not counted (--history-sample 0)',
    `  calls per onboarding     read ${r.callsPerOnboarding.read}, write ${r.callsPerOnboarding.write}`,
    `  429s                     ${r.rateLimited}`,
    `  duplicates               ${r.duplicates}   (orgs ${d.duplicates.orgs}, transfers ${d.duplicates.transfers}, keys ${d.duplicates.keys}; missing orgs ${d.duplicates.missing})`,
    `  overhead per step p50/95 ${r.overheadPerStepMs.p50} / ${r.overheadPerStepMs.p95} ms   ((latency − time inside Layers) / steps)`,
    `  sustained writes         ${d.sustainedWrites.perMinute}/min${d.sustainedWrites.budgetPerMinute ? ` = ${(d.sustainedWrites.fractionOfBudget! * 100).toFixed(1)} % of the ${d.sustainedWrites.budgetPerMinute}/min budget` : ''} (10→90 % window, ${(d.sustainedWrites.windowMs / 1000).toFixed(1)} s)`,
  ];
  if (r.baseline) {
    lines.push(
      `  baseline (no Temporal)   ${r.baseline.onboardingsPerSecond} onboardings/s (10–90 %; whole run ${r.baseline.onboardingsPerSecondWholeRun}), latency p50/p95/p99 ${r.baseline.latencyMs.p50} / ${r.baseline.latencyMs.p95} / ${r.baseline.latencyMs.p99} ms, progress persisted per step: ${r.baseline.persistence}${r.baseline.failed ? `, ${r.baseline.failed} failed` : ''}`,
      `  baseline overhead/step   ${r.baseline.overheadPerStepMs.p50} / ${r.baseline.overheadPerStepMs.p95} ms (p50/p95); calls per onboarding read ${r.baseline.callsPerOnboarding.read}, write ${r.baseline.callsPerOnboarding.write}`,
      `  ratio                    median latency ${d.overheadRatio}× the baseline's; throughput ${(r.onboardingsPerSecond / r.baseline.onboardingsPerSecond).toFixed(2)}× the baseline's`,
    );
  }
  lines.push('', 'Targets (issue 12):');
  const width = Math.max(...r.targets.map((t) => t.target.length));
  for (const t of r.targets)
    lines.push(
      `  ${t.verdict === 'met' ? 'MET    ' : t.verdict === 'not met' ? 'NOT MET' : '  —    '}  ${t.target.padEnd(width)}  ${t.verdict === 'not measured' ? t.note : `${t.measured}${t.note ? `   (${t.note})` : ''}`}`,
    );
  process.stdout.write(lines.join('\n') + '\n');
}

if (require.main === module) {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(2);
  }
  bench(options).then(
    (r) => {
      printReport(r);
      if (options.json) {
        writeFileSync(options.json, JSON.stringify(r, null, 2) + '\n');
        process.stderr.write(`bench: wrote ${options.json}\n`);
      }
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`bench: ${err instanceof Error ? err.stack : String(err)}`);
      process.exit(1);
    },
  );
}
