import { Presets, SingleBar } from "cli-progress";

/** A progress bar on a terminal (nothing when the output is piped or in tests). */
export function progressBar(total: number, unit: string, enabled = process.stdout.isTTY === true): { tick(): void; stop(): void } {
  if (!enabled) return { tick: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format: `  {bar} {value}/{total} ${unit}`, clearOnComplete: true }, Presets.shades_classic);
  bar.start(total, 0);
  return { tick: () => bar.increment(), stop: () => bar.stop() };
}
