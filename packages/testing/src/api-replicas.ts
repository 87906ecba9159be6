// Real API processes (the built dist/server.js) for tests that need more than one replica, or a
// replica cut off from a datastore: started on a free port, ready once /health/ready answers 200,
// killed outright by the test or by stopAll.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './redis-server.js';

export interface ApiReplica {
  name: string;
  baseUrl: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
}

export interface ApiReplicas {
  start(name: string, env: Record<string, string>): Promise<ApiReplica>;
  /** SIGKILL: the replica gets no chance to clean up, as in a crash. */
  kill(replica: ApiReplica): Promise<void>;
  killAll(): Promise<void>;
}

/** `serverPath` is the API's dist/server.js; `baseEnv` the test context's env (DATABASE_URL, REDIS_URL, …). */
export function apiReplicas(serverPath: string, baseEnv: () => Record<string, string | undefined>, startTimeoutMs = 20_000): ApiReplicas {
  const running = new Set<ApiReplica>();
  const kill = async (replica: ApiReplica) => {
    running.delete(replica);
    if (replica.child.exitCode !== null || replica.child.signalCode !== null) return;
    const exited = new Promise((resolve) => replica.child.once('exit', resolve));
    replica.child.kill('SIGKILL');
    await exited;
  };
  return {
    async start(name, env) {
      if (!existsSync(serverPath)) throw new Error(`build the API first (pnpm --filter @books/api build): ${serverPath} is missing`);
      const port = await freePort();
      let output = '';
      const child = spawn(process.execPath, [serverPath], {
        env: { ...process.env, ...baseEnv(), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk) => (output += chunk));
      child.stderr?.on('data', (chunk) => (output += chunk));
      const replica: ApiReplica = { name, baseUrl: `http://127.0.0.1:${port}`, child, output: () => output };
      running.add(replica);
      const deadline = Date.now() + startTimeoutMs;
      while ((await fetch(`${replica.baseUrl}/health/ready`).catch(() => null))?.ok !== true) {
        if (Date.now() > deadline || child.exitCode !== null) {
          await kill(replica);
          throw new Error(`replica ${name} did not start: ${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return replica;
    },
    kill,
    async killAll() {
      await Promise.all([...running].map(kill));
    },
  };
}
