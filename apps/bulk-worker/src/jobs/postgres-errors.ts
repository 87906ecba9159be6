// What a Postgres error means for a bulk import: a value of one row that Postgres refuses (that
// row fails alone), the account gone (the request fails now), or anything else (the request is
// retried later). Users get a readable reason and a code; Postgres's own words, which name
// constraints and quote bytes, go to the operators' log only.

/** Postgres's SQLSTATE (postgres.js puts it in `code`), found on the error or what caused it. */
export function sqlState(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  }
  return undefined;
}

const FOREIGN_KEY_VIOLATION = '23503';

/** A readable reason when `err` is Postgres refusing a value of a row; null for anything else. */
export function rowRejectionReason(err: unknown): string | null {
  const state = sqlState(err);
  if (!state || state === FOREIGN_KEY_VIOLATION) return null;
  if (state === '22021' || state === '22P05') return 'contains characters that cannot be stored (such as a NUL byte)';
  if (state === '22003') return 'a number is out of range';
  if (state === '22001' || state === '54000') return 'a value is too long to be stored';
  if (state.startsWith('22')) return 'a value cannot be stored';
  if (state.startsWith('23')) return 'rejected by a rule of the collection';
  return null;
}

export interface RequestErrorVerdict {
  /** Shown to the user in lastError. */
  reason: string;
  code: string;
  /** Retrying cannot help. */
  fatal: boolean;
}

/** Why a whole attempt failed, as the user should read it. */
export function requestErrorVerdict(err: unknown): RequestErrorVerdict {
  const state = sqlState(err);
  if (state === FOREIGN_KEY_VIOLATION) return { reason: 'the account no longer exists', code: 'ACCOUNT_DELETED', fatal: true };
  const code = (err as { code?: unknown })?.code;
  const connection =
    (typeof code === 'string' && /^(E[A-Z]+|CONNECT_TIMEOUT|CONNECTION_[A-Z]+)$/.test(code)) ||
    (state !== undefined && /^(08|53|57P)/.test(state));
  if (connection) return { reason: 'the database was unavailable', code: 'DATABASE_UNAVAILABLE', fatal: false };
  return { reason: 'an internal error interrupted the import', code: 'PROCESSING_ERROR', fatal: false };
}
