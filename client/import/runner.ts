/**
 * Starts one onboarding per row with bounded concurrency and follows each to its end.
 *
 * Re-runnable: ids derive from the externalId (customer/<id>, its onboarding child onboarding/<id>) and
 * the client starts with USE_EXISTING + ALLOW_DUPLICATE_FAILED_ONLY, so a customer whose onboarding
 * already completed is skipped (its result is read back), one still running is attached to, and one that
 * failed starts again (reconciling the org the failed run may have made). Nothing here keeps state
 * between runs: Temporal is the record.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import type { OnboardingClient } from '../onboarding-client';
import type { OnboardingResult } from '../../common/onboarding-messages';
import type { ValidRow } from './rows';
import { type OnboardingOptions } from '../../common/onboarding-messages';

export type OutcomeState =
  /** Onboarded by this run (started here, or attached to a run an earlier import left going). */
  | 'completed'
  /** Completed before this run: skipped, its result read back. */
  | 'already-onboarded'
  | 'failed'
  /** Refused by validation: never started. */
  | 'invalid'
  /** Still running when the import stopped: it goes on in Temporal; a re-run attaches to it. */
  | 'running'
  /** The import stopped before starting it. */
  | 'not-started';

export interface Outcome {
  externalId: string;
  orgId?: string;
  state: OutcomeState;
  error?: string;
  /** Line of the input file. */
  line: number;
  result?: OnboardingResult;
  /** ms from the start call to the result (completed rows only). */
  latencyMs?: number;
}

export interface BulkProgress {
  total: number;
  /** completed + already onboarded */
  done: number;
  skipped: number;
  running: number;
  /** Running onboardings whose status query says 'waiting' (funds, kill switch). */
  waiting: number;
  failed: number;
  /** Not started yet. */
  queued: number;
  /** Onboardings finished per second over the last few seconds. */
  ratePerSecond: number;
  /** Seconds to go at the current rate; undefined until there is a rate. */
  etaSeconds?: number;
  elapsedMs: number;
}

export interface BulkRunOptions {
  /** How many onboardings run at once (started and not yet finished). */
  concurrency: number;
  /** Passed to every start (tests shorten timings). */
  workflowOptions?: Omit<OnboardingOptions, 'reconcile'>;
  /** Stop starting new rows; rows in flight are reported 'running' and go on in Temporal. */
  signal?: AbortSignal;
  onOutcome?: (outcome: Outcome) => void;
  /** How often to ask long-running onboardings whether they wait (status query); 0 = never. Default 2000. */
  waitingPollMs?: number;
  /** Only onboardings running longer than this are asked. Default 3000. */
  waitingAfterMs?: number;
  /** At most this many status queries per poll, round robin. Default 10. */
  waitingQueriesPerPoll?: number;
}

interface InFlight {
  row: ValidRow;
  since: number;
  waiting: boolean;
}

const RATE_WINDOW_MS = 10_000;

function failureMessage(err: unknown): string {
  if (err instanceof WorkflowFailedError) return (err.cause?.message ?? err.message).split('\n')[0]!;
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!;
}

export class BulkRun {
  readonly outcomes: Outcome[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private readonly finishTimes: number[] = [];
  private next = 0;
  private readonly startedAt = Date.now();
  private counts = { done: 0, skipped: 0, failed: 0 };
  private pollTimer?: NodeJS.Timeout;
  private pollCursor = 0;
  private polling = false;

  constructor(
    private readonly client: OnboardingClient,
    private readonly rows: ValidRow[],
    private readonly options: BulkRunOptions,
  ) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
      throw new RangeError('concurrency must be a whole number ≥ 1');
  }

  progress(): BulkProgress {
    const now = Date.now();
    while (this.finishTimes.length && this.finishTimes[0]! < now - RATE_WINDOW_MS) this.finishTimes.shift();
    const elapsedMs = now - this.startedAt;
    const window = Math.min(RATE_WINDOW_MS, elapsedMs);
    const ratePerSecond = window > 0 ? (this.finishTimes.length * 1000) / window : 0;
    const finished = this.counts.done + this.counts.failed;
    const remaining = this.rows.length - finished;
    let waiting = 0;
    for (const f of this.inFlight.values()) if (f.waiting) waiting++;
    return {
      total: this.rows.length,
      done: this.counts.done,
      skipped: this.counts.skipped,
      running: this.inFlight.size,
      waiting,
      failed: this.counts.failed,
      queued: this.rows.length - this.next,
      ratePerSecond,
      etaSeconds: ratePerSecond > 0 ? remaining / ratePerSecond : remaining === 0 ? 0 : undefined,
      elapsedMs,
    };
  }

  async run(): Promise<Outcome[]> {
    const pollMs = this.options.waitingPollMs ?? 2_000;
    if (pollMs > 0) {
      this.pollTimer = setInterval(() => void this.pollWaiting(), pollMs);
      this.pollTimer.unref();
    }
    const aborted = new Promise<void>((resolve) => {
      if (this.options.signal?.aborted) resolve();
      this.options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    try {
      const lanes = Array.from({ length: Math.min(this.options.concurrency, this.rows.length) }, () =>
        this.lane(aborted),
      );
      await Promise.all(lanes);
    } finally {
      if (this.pollTimer) clearInterval(this.pollTimer);
    }
    // Rows never reached (the import was stopped).
    for (let i = this.next; i < this.rows.length; i++) {
      const row = this.rows[i]!;
      this.record({ externalId: row.externalId, line: row.line, state: 'not-started' });
    }
    this.next = this.rows.length;
    return this.outcomes;
  }

  private record(outcome: Outcome): void {
    this.outcomes.push(outcome);
    if (outcome.state === 'completed' || outcome.state === 'already-onboarded') {
      this.counts.done++;
      if (outcome.state === 'already-onboarded') this.counts.skipped++;
      this.finishTimes.push(Date.now());
    } else if (outcome.state === 'failed') {
      this.counts.failed++;
      this.finishTimes.push(Date.now());
    }
    this.options.onOutcome?.(outcome);
  }

  private async lane(aborted: Promise<void>): Promise<void> {
    while (!this.options.signal?.aborted && this.next < this.rows.length) {
      const row = this.rows[this.next++]!;
      const outcome = await Promise.race([this.onboard(row), aborted.then(() => undefined)]);
      this.inFlight.delete(row.externalId);
      this.record(outcome ?? { externalId: row.externalId, line: row.line, state: 'running' });
    }
  }

  private async onboard(row: ValidRow): Promise<Outcome> {
    const base = { externalId: row.externalId, line: row.line };
    const since = Date.now();
    this.inFlight.set(row.externalId, { row, since, waiting: false });
    let skipped = false;
    try {
      try {
        const started = await this.client.start(row.request, this.options.workflowOptions);
        // The customer's workflow was already running: an earlier import started it. Its onboarding may
        // have finished since (skip, read the result back) or still be going (attach and wait).
        if (!started.started)
          skipped = (await this.client.handle(row.externalId).describe()).status.name === 'COMPLETED';
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        // The customer's workflow has ended (archived since): nothing to start. Its onboarding's result says which org it made.
        skipped = true;
      }
      const result = await this.client.result(row.externalId);
      return {
        ...base,
        orgId: result.orgId,
        state: skipped ? 'already-onboarded' : 'completed',
        result,
        ...(skipped ? {} : { latencyMs: Date.now() - since }),
      };
    } catch (err) {
      return { ...base, state: 'failed', error: failureMessage(err) };
    }
  }

  /** Asks a few long-running onboardings for their status, round robin, to count the waiting ones. */
  private async pollWaiting(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const threshold = Date.now() - (this.options.waitingAfterMs ?? 3_000);
      const candidates = [...this.inFlight.values()].filter((f) => f.since < threshold);
      const perPoll = this.options.waitingQueriesPerPoll ?? 10;
      const picked: InFlight[] = [];
      for (let i = 0; i < Math.min(perPoll, candidates.length); i++)
        picked.push(candidates[(this.pollCursor + i) % candidates.length]!);
      this.pollCursor += picked.length;
      await Promise.all(
        picked.map(async (f) => {
          try {
            const status = await this.client.status(f.row.externalId);
            f.waiting = status.state === 'waiting';
          } catch {
            // Not started yet, or the worker is busy: keep the last answer.
          }
        }),
      );
    } finally {
      this.polling = false;
    }
  }
}

export function runBulk(
  client: OnboardingClient,
  rows: ValidRow[],
  options: BulkRunOptions,
): { run: BulkRun; done: Promise<Outcome[]> } {
  const run = new BulkRun(client, rows, options);
  return { run, done: run.run() };
}
