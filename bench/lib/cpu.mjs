// Where CPU time goes inside and around a process under test: one of its threads, the Redis server.
// From /proc and INFO, so the processes under test need no instrumentation.
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) of thread `tid` of process `pid` (default: its main thread); null once gone. */
export function threadCpuSeconds(pid, tid = pid) {
  try {
    // After the command name (which may hold spaces), utime and stime are the 12th and 13th fields, in ticks of 1/100 s.
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The Redis server's CPU seconds so far (server-wide: other clients' work counts too). */
export async function redisCpuSeconds(redis) {
  const info = await redis.info('cpu');
  return Number(info.match(/used_cpu_sys:([\d.]+)/)[1]) + Number(info.match(/used_cpu_user:([\d.]+)/)[1]);
}
