import * as hdr from 'hdr-histogram-js';

/** Publish → PUBACK latencies in microseconds, 1 µs to an hour, 3 significant digits. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export function summarizeLatency(h: hdr.Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
  // a percentile is reported as the top of its bucket, which may lie a hair above the largest value seen
  const at = (p: number) => ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return {
    count: h.totalCount,
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
  };
}

/** for worker processes: a histogram as text, and back (HdrHistogram's compressed encoding) */
export const encodeHistogram = (h: hdr.Histogram): string => hdr.encodeIntoCompressedBase64(h);

export function addEncoded(into: hdr.Histogram, encoded: string): void {
  into.add(hdr.decodeFromCompressedBase64(encoded));
}

export type Histogram = hdr.Histogram;
