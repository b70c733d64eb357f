/** Small statistics helpers for the benchmark. */

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface Sample {
  t: number;
  writes: number;
  reads: number;
}

/**
 * Sustained rate (per second) of a cumulative counter: the slope between the samples where it crossed
 * `from` and `to` of its final value (default 10 % → 90 %), so ramp-up and tail do not count.
 */
export function sustainedRate(
  samples: Sample[],
  key: 'writes' | 'reads',
  from = 0.1,
  to = 0.9,
): { perSecond: number; windowMs: number } {
  if (samples.length < 2) return { perSecond: Number.NaN, windowMs: 0 };
  const first = samples[0]![key];
  const total = samples[samples.length - 1]![key] - first;
  if (total <= 0) return { perSecond: 0, windowMs: 0 };
  const lo = samples.find((s) => s[key] - first >= total * from)!;
  const hi = samples.find((s) => s[key] - first >= total * to)!;
  const windowMs = hi.t - lo.t;
  return { perSecond: windowMs > 0 ? ((hi[key] - lo[key]) * 1000) / windowMs : Number.NaN, windowMs };
}

/**
 * Rate (per second) over the middle of a run: from the completion at `from` of the total to the one at
 * `to` (default 10 % → 90 %), so the ramp (lanes filling, caches warming) and the tail (the last lanes
 * draining) do not dilute it. Fewer than 10 completions have no middle: the whole span is used.
 */
export function windowRate(
  completionTimes: number[],
  from = 0.1,
  to = 0.9,
): { perSecond: number; windowMs: number; completions: number } {
  const t = [...completionTimes].sort((a, b) => a - b);
  const n = t.length;
  if (n < 2) return { perSecond: Number.NaN, windowMs: 0, completions: n };
  const [i, j] = n < 10 ? [0, n - 1] : [Math.ceil(from * n) - 1, Math.ceil(to * n) - 1];
  const windowMs = t[j]! - t[i]!;
  return { perSecond: windowMs > 0 ? ((j - i) * 1000) / windowMs : Number.NaN, windowMs, completions: j - i };
}

export interface Interval {
  start: number;
  end: number;
}

/** The union of intervals: sorted, overlapping ones merged. */
export function merge(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else out.push({ ...i });
  }
  return out;
}

/** Time in [from, to] that none of the intervals covers. */
export function uncovered(intervals: Interval[], from: number, to: number): number {
  let covered = 0;
  for (const i of merge(intervals)) covered += Math.max(0, Math.min(i.end, to) - Math.max(i.start, from));
  return Math.max(0, to - from - covered);
}

export interface Timeline {
  /** Client start → the first Layers call began. */
  beforeFirstMs: number;
  /** The last Layers call ended → the client held the result. */
  afterLastMs: number;
  /** Between the first call's start and the last call's end, time with no Layers call of the onboarding in flight. */
  betweenStepsMs: number;
  /** Of betweenStepsMs, time when none of the onboarding's activities was executing either (Temporal's share). */
  betweenActivitiesMs: number;
  /** Time with at least one Layers call in flight. */
  busyMs: number;
}

/**
 * One onboarding's time line, from the client's start to the client seeing the result, given its steps'
 * Layers-call extents (each activity attempt: its first call's start to its last call's end) and, optionally,
 * its activities' execution intervals. Steps issued together (after create-org, say) cost nothing while they
 * overlap: between steps counts only the time when none of them is in a Layers call, so a step that starts
 * while another is in flight adds no gap. before + busy + between + after = the latency.
 */
export function timeline(
  startedAt: number,
  finishedAt: number,
  calls: Interval[],
  activities: Interval[] = [],
): Timeline | null {
  if (calls.length === 0) return null;
  const busy = merge(calls);
  const first = busy[0]!.start;
  const last = busy[busy.length - 1]!.end;
  const busyMs = busy.reduce((sum, i) => sum + i.end - i.start, 0);
  const betweenStepsMs = last - first - busyMs;
  return {
    beforeFirstMs: first - startedAt,
    afterLastMs: finishedAt - last,
    betweenStepsMs,
    betweenActivitiesMs: activities.length ? uncovered(activities, first, last) : betweenStepsMs,
    busyMs,
  };
}
