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
