import { createPrivatePostgres, type PrivatePostgres } from '@books/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';

let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await createPrivatePostgres();
});

afterAll(async () => {
  await pg?.destroy();
});

it('a committed row survives a crash of the private PostgreSQL and a restart on the same port', async () => {
  const url = await pg.migratedDatabase('books');
  const before = postgres(url, { max: 1, onnotice: () => {} });
  await before`create table survivors (name text primary key)`;
  await before`insert into survivors values ('committed before the crash')`;
  await before.end();

  await pg.kill();
  const refused = postgres(url, { max: 1, connect_timeout: 2 });
  await expect(refused`select 1`).rejects.toThrow();
  await refused.end();

  await pg.start();
  const after = postgres(url, { max: 1, onnotice: () => {} });
  try {
    expect(await after`select name from survivors`).toEqual([{ name: 'committed before the crash' }]);
    // The schema the migrations built is there too.
    const [books] = await after`select to_regclass('public.books') as found`;
    expect(books?.found).toBe('books');
  } finally {
    await after.end();
  }
});

it('a clean stop and a restart keep the data too', async () => {
  const url = await pg.migratedDatabase('books');
  await pg.restart();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    expect(await sql`select count(*)::int as n from survivors`).toEqual([{ n: 1 }]);
  } finally {
    await sql.end();
  }
});
