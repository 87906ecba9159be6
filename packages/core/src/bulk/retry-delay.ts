/** The wait before retry number `attempts` (from 1): doubling from `baseMs`, capped at 30 × `baseMs`. */
export const retryDelayMs = (attempts: number, baseMs: number) => Math.min(baseMs * 2 ** (attempts - 1), 30 * baseMs);
