// What the kernel says about a process: its resident memory (now and at its peak)
// and the CPU time it has used, read from /proc (Linux only).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS = clockTicks();

export interface Memory {
  /** VmRSS, bytes. */
  readonly rss: number;
  /** VmHWM, the peak RSS since the process started, bytes. */
  readonly peak: number;
}

export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: kilobytes(status, 'VmRSS') * 1024, peak: kilobytes(status, 'VmHWM') * 1024 };
}

/** User plus system CPU time of the process so far (all its threads), in seconds. */
export function cpuSecondsOf(pid: number): number {
  const fields = statFields(pid);
  return fields === undefined ? 0 : (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime: fields 14 and 15 of proc(5)
}

/** The same for the process and its children: nginx serves from worker processes under its master. */
export function treeCpuSecondsOf(pid: number): number {
  let seconds = cpuSecondsOf(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields !== undefined && Number(fields[1]) === pid) seconds += cpuSecondsOf(Number(entry)); // ppid: field 4
  }
  return seconds;
}

/** /proc/<pid>/stat from field 3 on (index 0); undefined once the process is gone. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold spaces: fields are counted after it.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function kilobytes(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc status`);
  return Number(match[1]);
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
