import { clear, fire, harness } from '../alerts/testing.js';

/**
 * The alert service alone, in one process: CPU per rule signal for the two shapes of an alert
 * storm, taken as the runtime hands them over (handleAll: the signals of one event-loop turn in
 * one transaction). Not part of `npm run bench`; for before/after figures of a change to alerts/.
 * Usage: tsx bench/alert-signals.ts [--batch N]
 */

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
const BATCH = Number(args.get('batch') ?? 20);
const ENTITIES = 100;
const REPEATS = 20_000;
const PAIRS = 4_000;

const h = harness();
try {
  for (let i = 0; i < ENTITIES; i++) h.service.handle(fire('water-high', `s${i}`));
  let t = performance.now();
  for (let done = 0; done < REPEATS; done += BATCH)
    h.service.handleAll(Array.from({ length: BATCH }, (_, i) => fire('water-high', `s${(done + i) % ENTITIES}`)));
  const repeatUs = ((performance.now() - t) * 1000) / REPEATS;

  t = performance.now();
  for (let done = 0; done < PAIRS; done += BATCH) {
    const ids = Array.from({ length: BATCH }, (_, i) => `d${i}`);
    h.service.handleAll([...ids.map((id) => fire('chatter', id)), ...ids.map((id) => clear('chatter', id))]);
  }
  const pairUs = ((performance.now() - t) * 1000) / PAIRS;
  await h.service.flush();
  process.stdout.write(`alert signals in batches of ${BATCH}: repeat of an open alert ${repeatUs.toFixed(1)} µs; open + auto-resolve ${pairUs.toFixed(1)} µs per pair\n`);
} finally {
  await h.close();
}
