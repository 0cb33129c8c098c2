import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU milliseconds used so far by this process (`bench`) and by each emulator it started (its child
 * processes, named `azurite` and `cosmosdb-server`), read from /proc: on Linux only, elsewhere the bench
 * process alone. Benchmarks print the difference over a run, per unit of work.
 */
export function cpuMilliseconds(): Record<string, number> {
  const usage = process.cpuUsage();
  const times: Record<string, number> = { bench: Math.round((usage.user + usage.system) / 1000) };
  try {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const name = cmd.includes('azurite') ? 'azurite' : cmd.includes('cosmosdb-server') ? 'cosmosdb-server' : `pid${pid}`;
      times[name] = (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
    }
  } catch {
    // not Linux: the bench process only
  }
  return times;
}
