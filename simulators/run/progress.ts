import cliProgress from 'cli-progress';

export interface ProgressLine {
  update(label: string, value: number, total: number, detail: string): void;
  stop(): void;
}

/**
 * A live progress bar on stdout (cli-progress) while a long run goes on, only when stdout is a
 * terminal and no JSON is wanted: piped output and logs get the summary alone.
 */
export function progressLine(enabled: boolean, stream: NodeJS.WriteStream = process.stdout): ProgressLine {
  if (!enabled || !stream.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: '{label} |{bar}| {percentage}% {detail}', stream, hideCursor: true, clearOnComplete: true, barsize: 24, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let label = '';
  return {
    update(l, value, total, detail) {
      if (!started) {
        bar.start(Math.max(1, total), value, { label: l.padEnd(11), detail });
        started = true;
      } else if (l !== label) bar.setTotal(Math.max(1, total));
      label = l;
      bar.update(value, { label: l.padEnd(11), detail });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
