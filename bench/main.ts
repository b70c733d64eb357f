/**
 * `npm run bench -- [--customers N] [--concurrency C] [--latency-ms L] [--tier T] [--json FILE]`
 *
 * Starts a Temporal dev server, the Layers emulator (in this process) and a worker (its own process:
 * bench/worker-process.ts), runs N onboardings through the bulk-import runner, and reports throughput,
 * latency, Layers calls per onboarding by bucket, 429s, duplicates, orchestration overhead per step, the
 * worker's peak RSS and the sustained write rate against the tier's budget. Then, in the same run, the
 * baseline: the same N onboardings by a plain script (same activity code, same client, no Temporal).
 *
 * Extra knobs for the measurements in bench/RESULTS.md: --warmup W, --no-baseline, --local-activities,
 * --max-cached-workflows N, --max-concurrent-wft N, --max-concurrent-activities N, --headroom H,
 * --dev-config KEY=JSON (repeatable: extra dynamic config for the dev server).
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
import { runBaseline } from './baseline';
import { percentile, round, sustainedRate, type Sample } from './stats';
import type { WorkerMessage } from './worker-process';
import { onboardingWorkflowId } from '../common/ids';

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
}

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

/** The guide's full onboarding: org, key, credits, cap and auto-refill, firehose, first project. */
export function benchRequest(externalId: string): OnboardingRequest {
  return {
    customer: { externalId, name: `Bench customer ${externalId}`, metadata: { source: 'bench' } },
    apiKey: { scopes: ['content:read', 'content:write'] },
    credits: 100,
    creditConfig: { monthlyCreditCap: 1_000, refillThreshold: 20, refillAmount: 50 },
    firehose: {
      url: 'https://bench.example.com/layers/webhooks',
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
): Promise<{ outcomes: Outcome[]; wallMs: number }> {
  const renderer = createProgressRenderer(process.stderr, { plainEveryMs: 5_000 });
  const run = new BulkRun(crm, list, {
    concurrency,
    ...(waitingPollMs !== undefined ? { waitingPollMs } : {}),
  });
  const timer = setInterval(() => renderer.update(run.progress()), 500);
  const t0 = Date.now();
  try {
    const outcomes = await run.run();
    renderer.finish(run.progress());
    return { outcomes, wallMs: Date.now() - t0 };
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
    const crm = new OnboardingClient(new Client({ connection, namespace: server.namespace }), taskQueue);

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
    const { outcomes, wallMs } = await runOnboardings(crm, list, options.concurrency, options.waitingPollMs);
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
    );
    const calls = countCalls(diffByRoute(store().requests.byRoute, before));
    const state = await (await fetch(`${emu.url}/_emulator/state`)).json();
    const dup = duplicates(state, new Set(list.map((r) => r.externalId)));
    const stats = await worker.request();
    await stopWorker(worker.child);

    const completed = outcomes.filter((o) => o.state === 'completed');
    const failed = outcomes.filter((o) => o.state !== 'completed');
    const latencies = completed.map((o) => o.latencyMs!);
    const overheads: number[] = [];
    // Where the overhead sits: before the first Layers call and after the last (client start, customer
    // workflow, child start, result), and between consecutive steps (one task-queue hop and workflow task each).
    const outsideSpan: number[] = [];
    const betweenSteps: number[] = [];
    let layersMsTotal = 0;
    let stepsTotal = 0;
    for (const o of completed) {
      const s = stats.byWorkflow[onboardingWorkflowId(o.externalId)];
      if (!s || s.steps === 0) continue;
      overheads.push((o.latencyMs! - s.layersMs) / s.steps);
      const span = s.lastCallEnd - s.firstCallStart;
      outsideSpan.push(o.latencyMs! - span);
      if (s.steps > 1) betweenSteps.push((span - s.layersMs) / (s.steps - 1));
      layersMsTotal += s.layersMs;
      stepsTotal += s.steps;
    }
    const budget = TIER_BUDGETS[options.tier];
    const writeRate = sustainedRate(samples, 'writes');

    // ---------------------------------------------------------------- the baseline, same run
    let baseline;
    if (options.baseline) {
      emu.emulator.limiter.reset(); // a fresh bucket, as the orchestrated run had
      log(
        `baseline: the same ${options.customers} onboardings by a plain script (same client, no Temporal), ${options.concurrency} at a time`,
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
      const b = await runBaseline(
        { layers, secretSink: new FileSecretSink(path.join(tmp, 'baseline-secrets')) },
        baseRows.map((r) => r.request),
        options.concurrency,
      );
      const baseOverheads = b.onboardings.map(
        (o) => (o.latencyMs - (baseLayersMs.get(o.workflowId) ?? 0)) / o.steps,
      );
      if (b.failed) log(`baseline: ${b.failed} failed (${b.firstError})`);
      baseline = {
        onboardingsPerSecond: round((b.latenciesMs.length * 1000) / b.wallMs, 2),
        latencyMs: {
          p50: round(percentile(b.latenciesMs, 50)),
          p95: round(percentile(b.latenciesMs, 95)),
          p99: round(percentile(b.latenciesMs, 99)),
        },
        failed: b.failed,
        overheadPerStepMs: {
          p50: round(percentile(baseOverheads, 50), 2),
          p95: round(percentile(baseOverheads, 95), 2),
        },
        stepsPerOnboarding: b.stepsPerOnboarding[0] ?? 0,
      };
    }

    const result = {
      customers: options.customers,
      onboardingsPerSecond: round((completed.length * 1000) / wallMs, 2),
      latencyMs: {
        p50: round(percentile(latencies, 50)),
        p95: round(percentile(latencies, 95)),
        p99: round(percentile(latencies, 99)),
      },
      callsPerOnboarding: {
        read: round(calls.read / options.customers, 2),
        write: round(calls.write / options.customers, 2),
      },
      rateLimited: calls.rateLimited,
      duplicates: dup.orgs + dup.transfers + dup.keys,
      overheadPerStepMs: {
        p50: round(percentile(overheads, 50), 2),
        p95: round(percentile(overheads, 95), 2),
      },
      // The process's lifetime peak, start-up included (bundling the workflows with webpack is its biggest moment).
      workerPeakRssMb: round(stats.peakRssMb, 1),
      baseline: baseline ?? null,
      // Beyond the fields the issue names: what the figures above rest on.
      details: {
        startedAt: startedAt.toISOString(),
        wallMs,
        completed: completed.length,
        failed: failed.length,
        firstFailure: failed[0]?.error ?? failed[0]?.state,
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
        },
        pacing: ready.pacing,
        calls: {
          read: calls.read,
          write: calls.write,
          byRoute: diffByRoute(store().requests.byRoute, before),
        },
        layersMsPerOnboarding: completed.length ? round(layersMsTotal / completed.length, 1) : null,
        overheadSplitMs: {
          outsideFirstToLastCallP50: round(percentile(outsideSpan, 50), 1),
          betweenStepsP50: round(percentile(betweenSteps, 50), 2),
        },
        stepsPerOnboarding: completed.length ? round(stepsTotal / completed.length, 2) : null,
        sustainedWrites: {
          perMinute: round(writeRate.perSecond * 60, 1),
          windowMs: writeRate.windowMs,
          budgetPerMinute: budget?.write ?? null,
          fractionOfBudget: budget ? round((writeRate.perSecond * 60) / budget.write, 3) : null,
        },
        cpuMsPerOnboarding,
        workerRssDuringRunMb: rss.length
          ? {
              start: round(rss[0]!, 1),
              peak: round(Math.max(...rss), 1),
              end: round(rss[rss.length - 1]!, 1),
            }
          : null,
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
    `  onboardings/s            ${r.onboardingsPerSecond}   (${d.completed} completed, ${d.failed} failed in ${(d.wallMs / 1000).toFixed(1)} s)`,
    `  latency p50/p95/p99      ${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99} ms`,
    `  calls per onboarding     read ${r.callsPerOnboarding.read}, write ${r.callsPerOnboarding.write}`,
    `  429s                     ${r.rateLimited}`,
    `  duplicates               ${r.duplicates}   (orgs ${d.duplicates.orgs}, transfers ${d.duplicates.transfers}, keys ${d.duplicates.keys}; missing orgs ${d.duplicates.missing})`,
    `  overhead per step p50/95 ${r.overheadPerStepMs.p50} / ${r.overheadPerStepMs.p95} ms   (${d.stepsPerOnboarding} steps, ${d.layersMsPerOnboarding} ms inside Layers per onboarding)`,
    `  overhead split p50       ${d.overheadSplitMs.outsideFirstToLastCallP50} ms before the first / after the last Layers call; ${d.overheadSplitMs.betweenStepsP50} ms between consecutive steps`,
    `  worker peak RSS          ${r.workerPeakRssMb} MB${d.workerRssDuringRunMb ? ` (during the measured run: ${d.workerRssDuringRunMb.start} → peak ${d.workerRssDuringRunMb.peak} → ${d.workerRssDuringRunMb.end} MB)` : ''}`,
    `  CPU ms per onboarding    ${Object.entries(d.cpuMsPerOnboarding)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  sustained writes         ${d.sustainedWrites.perMinute}/min${d.sustainedWrites.budgetPerMinute ? ` = ${(d.sustainedWrites.fractionOfBudget! * 100).toFixed(1)} % of the ${d.sustainedWrites.budgetPerMinute}/min budget` : ''} (10→90 % window, ${(d.sustainedWrites.windowMs / 1000).toFixed(1)} s)`,
  ];
  if (r.baseline) {
    lines.push(
      `  baseline (no Temporal)   ${r.baseline.onboardingsPerSecond} onboardings/s, latency p50/p95/p99 ${r.baseline.latencyMs.p50} / ${r.baseline.latencyMs.p95} / ${r.baseline.latencyMs.p99} ms${r.baseline.failed ? `, ${r.baseline.failed} failed` : ''}`,
      `  baseline overhead/step   ${r.baseline.overheadPerStepMs.p50} / ${r.baseline.overheadPerStepMs.p95} ms (p50/p95)`,
      `  ratio                    median latency ${d.overheadRatio}× the baseline's; throughput ${(r.onboardingsPerSecond / r.baseline.onboardingsPerSecond).toFixed(2)}× the baseline's`,
    );
  }
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
