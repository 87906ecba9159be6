// The debts table as every replica shares it: a payer settles exactly the debt it paid, a newer one
// recorded meanwhile stays owed, and an account deleted meanwhile owes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBooksCacheDebts, recordBooksCacheDebts, settleBooksCacheDebts } from '../src/services/books-cache-debts.js';
import { type ApiHarness, signup, startApi } from './helpers.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi('cache-debts');
});
afterAll(() => h?.close());

describe('cache debts', () => {
  it('settling the debt a replica paid leaves a newer one, recorded meanwhile, owed', async () => {
    const user = await signup(h.app);
    const [paid] = await recordBooksCacheDebts(h.app.db, [user.id]);
    // Another write fails to invalidate after the payer read the debt and before it settles.
    const [newer] = await recordBooksCacheDebts(h.app.db, [user.id]);
    expect(newer!.seq).toBeGreaterThan(paid!.seq);
    await settleBooksCacheDebts(h.app.db, [paid!]);
    expect(await listBooksCacheDebts(h.app.db)).toEqual([newer]);
    await settleBooksCacheDebts(h.app.db, [newer!]);
    expect(await listBooksCacheDebts(h.app.db)).toEqual([]);
  });

  it('records nothing for an account deleted meanwhile, without failing the others', async () => {
    const [kept, deleted] = await Promise.all([signup(h.app), signup(h.app)]);
    expect((await h.app.inject({ method: 'DELETE', url: '/auth/me', headers: deleted.auth })).statusCode).toBe(204);
    const recorded = await recordBooksCacheDebts(h.app.db, [kept.id, deleted.id]);
    expect(recorded.map((d) => d.userId)).toEqual([kept.id]);
    await settleBooksCacheDebts(h.app.db, recorded);
  });
});
