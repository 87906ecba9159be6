import { eq } from 'drizzle-orm';
import type { Database } from './client.js';
import { type UserRow, users } from './schema.js';

/** One user by id, or undefined. */
export async function findUserById(db: Database, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}
