// Child processes that die with the test process that started them, however it ends. A test run
// that crashes, is killed by a timeout or by Ctrl-C must not leave servers holding ports and
// memory for the next run. On Linux, util-linux's `setpriv --pdeathsig KILL` (then exec) makes the
// kernel kill the child when its parent dies, even by SIGKILL; the 'exit' hook covers a machine
// without setpriv for every ending that runs JavaScript (process.exit, an uncaught exception).
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const living = new Set<ChildProcess>();
let hooked = false;

function killLiving(): void {
  for (const child of living) child.kill('SIGKILL');
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const hasSetpriv = process.platform === 'linux' && onPath('setpriv');

export function spawnTethered(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = hasSetpriv ? spawn('setpriv', ['--pdeathsig', 'KILL', command, ...args], options) : spawn(command, args, options);
  if (!hooked) {
    hooked = true;
    process.once('exit', killLiving);
  }
  living.add(child);
  child.once('exit', () => living.delete(child));
  // A spawn failure (ENOENT) is reported through the child's 'exit'/'error'; the caller waits for readiness.
  child.once('error', () => living.delete(child));
  return child;
}

/** SIGKILL, then waits until the process is gone (and reaped), so its port is free again. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
