// The README's "Where things live" table is a promise to newcomers: every folder it names exists,
// and every folder of the tree is named there. Checked here against the checkout itself.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../..', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start === -1) throw new Error(`README has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

const rows = section('Where things live')
  .split('\n')
  .map((line) => /^\| `([^`]+)` \| (.+) \|$/.exec(line))
  .filter((match): match is RegExpExecArray => match !== null)
  .map(([, folder, text]) => ({ folder: folder as string, text: text as string }));
const named = new Set(rows.map((row) => row.folder));

const dirs = (path: string) =>
  existsSync(join(root, path))
    ? readdirSync(join(root, path)).filter(
        (name) => statSync(join(root, path, name)).isDirectory() && name !== 'node_modules' && name !== 'dist',
      )
    : [];

/** The folders a newcomer meets: top level, each package's src/ and test/, and src/'s own folders. */
function treeFolders(): string[] {
  const found = dirs('').filter((name) => !name.startsWith('.') || name === '.ci');
  for (const group of ['apps', 'packages']) {
    for (const pkg of dirs(group)) {
      for (const part of ['src', 'test']) {
        if (!existsSync(join(root, group, pkg, part))) continue;
        found.push(`${group}/${pkg}/${part}`);
        if (part === 'src') found.push(...dirs(`${group}/${pkg}/src`).map((name) => `${group}/${pkg}/src/${name}`));
      }
    }
  }
  // apps/ and packages/ themselves are described by their children's rows.
  return found.filter((folder) => folder !== 'apps' && folder !== 'packages');
}

describe('README: where things live', () => {
  it('names only folders that exist', () => {
    expect(rows.length).toBeGreaterThan(10);
    const missing = rows.filter((row) => !existsSync(join(root, row.folder)) || !statSync(join(root, row.folder)).isDirectory());
    expect(missing.map((row) => row.folder)).toEqual([]);
  });

  it('names every folder of the tree', () => {
    expect(treeFolders().filter((folder) => !named.has(folder))).toEqual([]);
  });

  it("gives each of core's entry points the row of its folder", () => {
    const pkg = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const entries = Object.keys(pkg.exports).map((entry) => entry.replace(/^\.\//, ''));
    expect(entries.length).toBeGreaterThan(3);
    const undescribed = entries.filter((entry) => !rows.some((row) => row.text.includes(`@books/core/${entry}`)));
    expect(undescribed).toEqual([]);
  });
});
