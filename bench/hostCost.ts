import { readFileSync } from 'node:fs';
import type { Testbed } from '../fixtures/testbed/testbed.ts';

/** Linux's clock ticks per second for /proc/PID/stat times (CLK_TCK, 100 on every common kernel). */
const TICKS_PER_SECOND = 100;

/** utime + stime + cutime + cstime of a process, in ticks: its own CPU and that of the children it reaped. */
function cpuTicks(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  } catch {
    return 0; // gone
  }
}

/**
 * CPU spent on a testbed's hosts, in ms: every live process in their network namespaces, and what
 * the processes that ended cost their sshd (session processes, shells, relays that have exited).
 * The difference of two readings is what the hosts spent between them.
 */
export function hostCpuMs(bed: Testbed): number {
  let ticks = 0;
  for (const host of bed.hosts) for (const p of bed.processes(host)) ticks += cpuTicks(p.pid);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Bytes this machine sent to the testbed's hosts (its bridge's transmit counter). */
export function bytesToHosts(bed: Testbed): number {
  return Number(readFileSync(`/sys/class/net/${bed.bridge}/statistics/tx_bytes`, 'utf8').trim());
}
