import uPlot from 'uplot';

export interface Line {
  /** y value */
  value: number;
  color: string;
  dash?: number[];
  label?: string;
}

export interface SeriesSpec {
  label: string;
  color: string;
  /** a faint line (min/max around a mean) */
  faint?: boolean;
}

export interface TimeChartSpec {
  title: string;
  unit: string;
  series: SeriesSpec[];
  /** horizontal lines drawn across the plot (rule thresholds, deadlines) */
  lines?: Line[];
  height?: number;
  /** charts with the same key share the cursor */
  syncKey?: string;
  /** a vertical marker (playback time), epoch ms */
  marker?: () => number | null;
}

/**
 * A small uPlot time chart: x in epoch ms (uPlot's x unit set to ms), one scale, optional
 * horizontal threshold lines and a vertical playback marker drawn on top.
 */
export function timeChart(parent: HTMLElement, spec: TimeChartSpec, data: uPlot.AlignedData): uPlot {
  const width = Math.max(200, parent.clientWidth || 360);
  const lines = spec.lines ?? [];
  const opts: uPlot.Options = {
    title: spec.title,
    width,
    height: spec.height ?? 130,
    ms: 1,
    cursor: spec.syncKey ? { sync: { key: spec.syncKey } } : {},
    legend: { live: true },
    scales: {
      x: { time: true },
      y: {
        range: (_u, min, max) => {
          const lo = Math.min(min ?? 0, ...lines.map((l) => l.value));
          const hi = Math.max(max ?? 1, ...lines.map((l) => l.value));
          const pad = (hi - lo) * 0.08 || 1;
          return [lo - pad, hi + pad];
        },
      },
    },
    axes: [
      { space: 64, size: 28, values: (u, splits) => splits.map((v) => timeTick(v, (u.scales.x!.max ?? 0) - (u.scales.x!.min ?? 0))) },
      { label: spec.unit, size: 48, labelSize: 14, space: 24 },
    ],
    series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.color, width: s.faint ? 1 : 1.6, ...(s.faint && { dash: [2, 3], alpha: 0.6 }), spanGaps: false, points: { show: false } }))],
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          const { left, top, width: w, height: hgt } = u.bbox;
          ctx.save();
          for (const l of lines) {
            const y = u.valToPos(l.value, 'y', true);
            if (y < top || y > top + hgt) continue;
            ctx.strokeStyle = l.color;
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash((l.dash ?? []).map((d) => d * devicePixelRatio));
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + w, y);
            ctx.stroke();
            if (l.label) {
              ctx.textAlign = 'left';
              ctx.textBaseline = 'alphabetic';
              ctx.fillStyle = l.color;
              ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
              ctx.fillText(l.label, left + 4 * devicePixelRatio, y - 3 * devicePixelRatio);
            }
          }
          const t = spec.marker?.();
          if (t !== null && t !== undefined) {
            const x = u.valToPos(t, 'x', true);
            if (x >= left && x <= left + w) {
              ctx.strokeStyle = '#111827';
              ctx.setLineDash([]);
              ctx.lineWidth = 1.5 * devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(x, top);
              ctx.lineTo(x, top + hgt);
              ctx.stroke();
            }
          }
          ctx.restore();
        },
      ],
    },
  };
  return new uPlot(opts, data, parent);
}

/** An x tick: the date on ranges over a day and a half, else the time of day (with seconds under 10 minutes). */
function timeTick(v: number, spanMs: number): string {
  const d = new Date(v);
  if (spanMs > 36 * 3_600_000) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', ...(spanMs < 600_000 && { second: '2-digit' }) });
}

/** Keeps charts as wide as their container. Returns a function that stops watching. */
export function fitWidth(parent: HTMLElement, charts: () => uPlot[]): () => void {
  const ro = new ResizeObserver(() => {
    const w = Math.max(200, parent.clientWidth);
    for (const c of charts()) if (Math.abs(c.width - w) > 2) c.setSize({ width: w, height: c.height });
  });
  ro.observe(parent);
  return () => ro.disconnect();
}
