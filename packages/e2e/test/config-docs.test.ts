// The README's configuration table is what operators set their deployments from: every variable a
// process validates is listed, with the processes that read it, and nothing is listed that none reads.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { variablesByProcess } from '@books/core/config';
import { expect, it } from 'vitest';

const root = new URL('../../..', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const start = readme.indexOf('\n## Configuration\n');
const table = readme.slice(start, readme.indexOf('\n## ', start + 1));

// "all" is the API and both workers (the README says so above the table).
const READERS: Record<string, string[]> = {
  all: ['api', 'bulk-worker', 'report-worker'],
  'all (migrate too)': ['api', 'bulk-worker', 'report-worker'],
  API: ['api'],
  'bulk worker': ['bulk-worker'],
  'report worker': ['report-worker'],
};

/** Variable → the processes the README says read it. */
function documented(): Map<string, string[]> {
  const byVariable = new Map<string, string[]>();
  for (const line of table.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 5 || !cells[1]?.startsWith('`')) continue;
    const readBy = (cells[3] ?? '').split(/,\s*/).flatMap((who) => {
      const processes = READERS[who] ?? READERS[cells[3] ?? ''];
      if (!processes) throw new Error(`unknown "Read by" value: ${cells[3]}`);
      return processes;
    });
    for (const [, name] of (cells[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)) byVariable.set(name as string, [...new Set(readBy)].sort());
  }
  return byVariable;
}

it('lists every variable with the processes that read it, and no other', () => {
  const read = new Map<string, string[]>();
  for (const [process, variables] of Object.entries(variablesByProcess)) {
    for (const name of Object.keys(variables)) read.set(name, [...(read.get(name) ?? []), process].sort());
  }
  const docs = documented();
  expect(Object.fromEntries([...docs].sort())).toEqual(Object.fromEntries([...read].sort()));
});
