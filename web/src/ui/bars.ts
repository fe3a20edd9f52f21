export interface BarRow {
  label: string;
  /** seconds, or null when no alert of the row got there */
  median: number | null;
  p90: number | null;
  /** the deadline, seconds */
  limit: number | null;
  color: string;
}

/**
 * Horizontal bars on a canvas, one row per cell and severity: the p90 light, the median dark, the
 * deadline a black tick. Small enough not to need a chart library; crisp at any pixel ratio.
 */
export function drawBars(canvas: HTMLCanvasElement, rows: BarRow[], o: { unitS: number; unit: string; width: number }): void {
  const rowH = 18;
  const top = 22;
  const labelW = 120;
  const right = 12;
  const height = top + rows.length * rowH + 8;
  const dpr = devicePixelRatio || 1;
  canvas.width = Math.round(o.width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${o.width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.scale(dpr, dpr);
  ctx.font = '11px system-ui, sans-serif';
  const step = niceStep((Math.max(1, ...rows.flatMap((r) => [r.p90 ?? 0, r.median ?? 0, r.limit ?? 0])) * 1.05) / o.unitS / 4) * o.unitS;
  const max = step * 4;
  const plotW = o.width - labelW - right;
  const x = (s: number) => labelW + (s / max) * plotW;
  // axis
  ctx.fillStyle = '#475569';
  ctx.strokeStyle = '#e2e8f0';
  for (let i = 0; i <= 4; i++) {
    const s = (max / 4) * i;
    const px = x(s);
    ctx.beginPath();
    ctx.moveTo(px, top - 4);
    ctx.lineTo(px, height - 8);
    ctx.stroke();
    ctx.fillText(`${+(s / o.unitS).toFixed(2)} ${o.unit}`, Math.min(px - 6, o.width - 44), 12);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    ctx.fillStyle = '#111827';
    ctx.fillText(r.label, 4, y + 12);
    if (r.p90 !== null) {
      ctx.fillStyle = `${r.color}55`;
      ctx.fillRect(labelW, y + 3, x(r.p90) - labelW, rowH - 6);
    }
    if (r.median !== null) {
      ctx.fillStyle = r.color;
      ctx.fillRect(labelW, y + 6, x(r.median) - labelW, rowH - 12);
    }
    if (r.limit !== null) {
      ctx.fillStyle = '#111827';
      ctx.fillRect(x(r.limit) - 1, y + 1, 2, rowH - 2);
    }
  });
}

/** 1, 2 or 5 times a power of ten, at least `x`. */
function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= x) ?? 10 * p;
}
