// The run-wide cluster is a promise about vitest's process tree: started in the main process by
// globalSetup, visible to test workers, stopped at the end. Checked by running a vitest of its
// own on a fixture, with and without TEST_REDIS_CLUSTER=1.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/cluster-global-setup', import.meta.url));
const vitestBin = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));

async function runFixture(extraEnv: Record<string, string>): Promise<{ code: number | null; output: string }> {
  // Not this worker's own vitest variables, nor a cluster this run may have been handed.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && !name.startsWith('TEST_REDIS_CLUSTER')),
  );
  const child = spawn(process.execPath, [vitestBin, 'run', '--root', fixture], {
    env: { ...env, ...extraEnv, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

async function answers(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  const probe = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

it('with TEST_REDIS_CLUSTER=1, gives the test workers one cluster and stops it at the end', async () => {
  const { code, output } = await runFixture({ TEST_REDIS_CLUSTER: '1' });
  expect(output).toMatch(/1 passed/);
  expect(code, output).toBe(0);
  const nodes = /CLUSTER_NODES=(\S+)/.exec(output)?.[1]?.split(',') ?? [];
  expect(nodes).toHaveLength(3);
  expect(await Promise.all(nodes.map(answers))).toEqual([false, false, false]);
});

it('without it, starts nothing and leaves TEST_REDIS_CLUSTER_NODES unset', async () => {
  const { code, output } = await runFixture({});
  expect(output).toMatch(/1 passed/);
  expect(output).not.toMatch(/CLUSTER_NODES=/);
  expect(code, output).toBe(0);
});
