// As root, the embedded PostgreSQL runs as the `postgres` user, who cannot enter a clone in /root
// or a mode-700 directory (issue: `pnpm start` died with `spawn …/initdb EACCES`). Its data then
// goes where that user can reach it. CI runs as root, so this runs there.
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reachableDataDir } from '../src/embedded-postgres-access.js';

const asRoot = process.getuid?.() === 0;
const hasPostgresUser = spawnSync('id', ['-u', 'postgres']).status === 0;

describe.runIf(asRoot && hasPostgresUser)('the embedded PostgreSQL started as root', () => {
  let closed: string;
  beforeAll(async () => {
    closed = await mkdtemp(join(tmpdir(), 'books-closed-'));
    await chmod(closed, 0o700);
  });
  afterAll(() => rm(closed, { recursive: true, force: true }));

  it('keeps its data in a directory the postgres user can reach when the clone is closed to it', async () => {
    const preferred = join(closed, 'clone', '.data', 'postgres');
    const chosen = await reachableDataDir(preferred);
    expect(chosen).not.toBe(preferred);
    expect(chosen).toMatch(/^\/var\/lib\/books-service\/postgres-[0-9a-f]{12}$/);
    // The same clone gets the same directory on every run, so its data survives restarts.
    expect(await reachableDataDir(preferred)).toBe(chosen);
    const parentReachable = spawnSync('su', ['-s', '/bin/sh', 'postgres', '-c', 'test -x /var/lib/books-service']).status;
    expect(parentReachable).toBe(0);
  });

  it('keeps the preferred directory when the postgres user can reach it', async () => {
    const open = await mkdtemp(join(tmpdir(), 'books-open-'));
    try {
      await chmod(open, 0o755);
      const preferred = join(open, 'postgres');
      expect(await reachableDataDir(preferred)).toBe(preferred);
    } finally {
      await rm(open, { recursive: true, force: true });
    }
  });
});
