// When the workers will next run, from the same patterns they are scheduled with (UTC).
import { Cron } from 'croner';

export function nextRun(pattern: string, after: Date): Date {
  const cron = new Cron(pattern, { paused: true, timezone: 'UTC' });
  const next = cron.nextRun(after);
  cron.stop();
  if (!next) throw new Error(`the schedule ${pattern} never runs again`);
  return next;
}

/** "45 seconds", "1 minute", "7 minutes": how the seed's clients show an estimate. */
export function describeWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  return `${hours} hours`;
}
