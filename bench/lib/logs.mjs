// The pino JSON log lines of a child started with `stdout: 'pipe'`, read as they come.
import { createInterface } from 'node:readline';

/**
 * Hands each entry to `onEntry`; warnings, errors and lines that are not JSON (a crash trace) go to
 * our stderr, except messages listed in `quiet` (expected ones). Resolves when the child's stdout ends.
 */
export async function readLogs(child, onEntry, { quiet = [] } = {}) {
  for await (const line of createInterface({ input: child.stdout })) {
    let entry = null;
    try {
      entry = JSON.parse(line);
    } catch {
      // Not JSON: shown as is below.
    }
    if (!entry || (entry.level >= 40 && !quiet.includes(entry.msg))) console.error(line);
    if (entry) onEntry(entry);
  }
}
