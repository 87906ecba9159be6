// Account state a test needs but would otherwise wait on an email for.
import postgres from 'postgres';

/**
 * Marks the account's address verified, as following its emailed link does (apps/api tests that link
 * itself). Call it before the account's first authenticated request: an identity the API has cached
 * keeps its earlier role for up to a minute.
 */
export async function verifyEmail(databaseUrl: string, userId: string): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`update users set email_verified_at = coalesce(email_verified_at, now()) where id = ${userId} returning id`;
    if (rows.length !== 1) throw new Error(`verifyEmail: no account ${userId}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
