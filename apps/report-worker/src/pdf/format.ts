// How the report spells dates, durations and rates for a human reader.

const DATE_PARTS = {
  year: 'numeric',
  month: 'long',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  second: '2-digit',
  hour12: true,
  timeZoneName: 'short',
} as const satisfies Intl.DateTimeFormatOptions;

// Intl.DateTimeFormat is costly to build; a report formats dozens of dates in one or two zones.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // Throws a RangeError for an unknown zone, which fails the render rather than lying about the time.
    formatter = new Intl.DateTimeFormat('en-US', { ...DATE_PARTS, timeZone });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** 1 → "1st", 12 → "12th", 22 → "22nd". */
export function ordinal(n: number): string {
  const lastTwo = n % 100;
  if (lastTwo >= 11 && lastTwo <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

export interface DateFormatOptions {
  /** Append the zone's short name ("UTC", "GMT+2", "EDT"). Default true. */
  zone?: boolean;
}

/** "October 13th 2025, 3:45:23 pm UTC" in the given IANA zone; "—" when there is no date. */
export function formatDateTime(iso: string | null, timeZone: string, options: DateFormatOptions = {}): string {
  if (iso === null) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a timestamp: ${iso}`);
  const parts: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const part of formatterFor(timeZone).formatToParts(date)) parts[part.type] = part.value;
  const text = `${parts.month} ${ordinal(Number(parts.day))} ${parts.year}, ${parts.hour}:${parts.minute}:${parts.second} ${parts.dayPeriod?.toLowerCase()}`;
  return options.zone === false ? text : `${text} ${parts.timeZoneName}`;
}

/** The zone's short name at that instant, e.g. "UTC", "GMT+2", "EST". */
export function zoneLabel(iso: string, timeZone: string): string {
  return (
    formatterFor(timeZone)
      .formatToParts(new Date(iso))
      .find((part) => part.type === 'timeZoneName')?.value ?? timeZone
  );
}

function unit(count: number, name: string): string {
  return `${count} ${name}${count === 1 ? '' : 's'}`;
}

/** "850 ms", "4.2 seconds", "2 minutes 15 seconds", "1 hour 3 minutes", "2 days 1 hour"; "—" when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) {
    const seconds = Math.round(ms / 100) / 10;
    return seconds === 10 ? '10 seconds' : `${seconds.toFixed(1)} seconds`;
  }
  const totalSeconds = Math.round(ms / 1000);
  // Two units are enough for a reader; seconds stop mattering once hours are involved.
  const pairs: [number, string, number, string][] = [
    [Math.floor(totalSeconds / 86_400), 'day', Math.floor((totalSeconds % 86_400) / 3600), 'hour'],
    [Math.floor(totalSeconds / 3600), 'hour', Math.floor((totalSeconds % 3600) / 60), 'minute'],
    [Math.floor(totalSeconds / 60), 'minute', totalSeconds % 60, 'second'],
  ];
  for (const [major, majorName, minor, minorName] of pairs) {
    if (major > 0) return minor > 0 ? `${unit(major, majorName)} ${unit(minor, minorName)}` : unit(major, majorName);
  }
  return unit(totalSeconds, 'second');
}

/** 80 → "80.0%". */
export function formatPercent(value: number): string {
  return `${value.toFixed(1)}%`;
}

/** Inserted share of the submitted books in percent, one decimal; null when nothing was submitted. */
export function successRate(inserted: number, submitted: number): number | null {
  return submitted === 0 ? null : Math.round((inserted / submitted) * 1000) / 10;
}

/** 12345 → "12,345". */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
