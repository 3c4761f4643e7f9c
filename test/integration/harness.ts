import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO } from '../../fixtures/testbed/testbed.ts';

export const HERD = join(REPO, 'dist', 'herd.js');
export const IN_CI = process.env.CI === 'true';

/**
 * What an integration file needs before it can run. On a laptop a missing piece skips the
 * file with a printed reason; under CI=true it fails instead, so CI never counts a skip as a pass.
 */
export function missingPrerequisites(needs: { root?: boolean; commands?: string[] }): string | null {
  if (needs.root === true && process.getuid?.() !== 0) return 'needs root';
  for (const command of needs.commands ?? []) {
    if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) return `needs ${command}`;
  }
  return null;
}

export function gate(file: string, needs: { root?: boolean; commands?: string[] }): boolean {
  const missing = missingPrerequisites(needs);
  if (missing === null) return true;
  if (IN_CI) throw new Error(`${file}: ${missing}, and under CI=true integration tests may not be skipped`);
  console.log(`SKIP ${file}: ${missing}`);
  return false;
}

export interface HerdRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface HerdOptions {
  home: string;
  env?: Record<string, string>;
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** argv prefix to run the CLI under another runtime, e.g. ['bun'] */
  runtime?: string[];
  /** another build of the CLI than dist/herd.js */
  cli?: string;
  /** called with the child once it has started */
  onStart?: (child: ReturnType<typeof spawn>) => void;
  /** false: leave stdout to onStart (the result's stdout is then empty) */
  captureStdout?: boolean;
  /** run as this user (needs root) */
  uid?: number;
  gid?: number;
  /** the working directory (default: the test's) */
  cwd?: string;
}

/** Runs the real CLI as a subprocess with its own HOME (so ~/.ssh and ~/.config/herd are the test's). */
export function herd(args: string[], options: HerdOptions): Promise<HerdRun> {
  const runtime = options.runtime ?? [process.execPath];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: options.home,
    ...(options.env ?? {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(runtime[0]!, [...runtime.slice(1), options.cli ?? HERD, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
    });
    const out: Buffer[] = [];
    let err = '';
    if (options.captureStdout !== false) child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.on('error', () => {});
    if (options.stdin !== undefined) child.stdin.end(options.stdin);
    else child.stdin.end();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`herd ${args.join(' ')} timed out; stderr: ${err}`));
    }, options.timeoutMs ?? 30_000);
    options.onStart?.(child);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout,
        stderr: err,
        text: stdout.toString(),
        json: <T>() => JSON.parse(stdout.toString()) as T,
      });
    });
  });
}

/** A fresh client HOME, removed by the returned function. */
export function tempHome(prefix: string): { home: string; remove(): void } {
  const home = mkdtempSync(join(tmpdir(), `herd-${prefix}-`));
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  return { home, remove: () => rmSync(home, { recursive: true, force: true }) };
}

/** A fresh client HOME with the chosen pieces of another's (a testbed's): its SSH key, known_hosts, herd config. */
export function homeFrom(source: string, prefix: string, pieces: ReadonlyArray<'key' | 'known_hosts' | 'config'>): { home: string; remove(): void } {
  const box = tempHome(prefix);
  const from = { key: join('.ssh', 'id_ed25519'), known_hosts: join('.ssh', 'known_hosts'), config: join('.config', 'herd', 'config.yml') };
  for (const piece of pieces) {
    mkdirSync(dirname(join(box.home, from[piece])), { recursive: true });
    copyFileSync(join(source, from[piece]), join(box.home, from[piece]));
  }
  return box;
}

/**
 * A HOME for runs on this machine: its config defaults to --network none, so local tests never make
 * bridges or NAT rules in the machine's own network namespace (network tests use testbed hosts).
 */
export function localHome(prefix: string): { home: string; remove(): void } {
  const box = tempHome(prefix);
  mkdirSync(join(box.home, '.config', 'herd'), { recursive: true });
  writeFileSync(join(box.home, '.config', 'herd', 'config.yml'), 'defaults:\n  network: none\n');
  return box;
}

/** The pids of the agents of a state directory, from their lock files. */
export function agentPids(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^agent-[0-9a-f]+\.lock$/.test(f))
    .flatMap((f) => {
      try {
        return [Number(readFileSync(join(dir, f), 'utf8').trim())];
      } catch {
        // the agent removed its lock file between the listing and the read: it is exiting
        return [];
      }
    });
}

/** Ends the agents a test started for a state directory, by pid. */
export function stopAgents(dir: string): void {
  for (const pid of agentPids(dir)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** Ends a state directory's agents and waits (up to 5 s) until they have cleaned up and exited. */
export async function stopAgentsAndWait(dir: string): Promise<void> {
  stopAgents(dir);
  for (let i = 0; i < 50 && agentPids(dir).length > 0; i++) await sleep(100);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * uvu runs none of a suite's tests when its before hook throws, and prints nothing about why;
 * wrap hooks in this so the reason reaches the log (scripts/test.sh counts the tests not run).
 */
export function loud(hook: () => Promise<void> | void): () => Promise<void> {
  return async () => {
    try {
      await hook();
    } catch (err) {
      console.error(`\nsuite setup failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      throw err;
    }
  };
}

/** Stops (SIGKILL) every job still running or scheduled in a client's view of a host, so no test leaves one behind. */
export async function stopJobs(options: HerdOptions, hosts?: string): Promise<void> {
  const list = await herd(['job', 'list', '--json', ...(hosts === undefined ? [] : ['-H', hosts])], options);
  if (list.code !== 0) return;
  const doc = list.json<{ hosts: Array<{ host: string; jobs: Array<{ id: string; state: string }> | null }> }>();
  for (const host of doc.hosts) {
    for (const job of host.jobs ?? []) {
      if (job.state === 'RUNNING' || job.state === 'SCHEDULED') await herd(['job', 'stop', '--grace', '0', '-H', host.host, job.id], options);
    }
  }
}

/** The pid of the running --persist daemon of a runtime directory (from its pid file), or null. */
export function persistDaemonPid(runtimeDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(runtimeDir, 'herd', 'persist-v2.pid'), 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/**
 * Ends the --persist daemon of a runtime directory (by the pid in its pid file), waits (up to 3 s) for
 * it to exit, then removes the directory: removing it while the daemon is still writing its log on the
 * way out failed with ENOTEMPTY.
 */
export async function endPersistDaemon(runtimeDir: string): Promise<void> {
  const pid = persistDaemonPid(runtimeDir);
  if (pid !== null) process.kill(pid, 'SIGTERM');
  for (let i = 0; pid !== null && i < 30 && persistDaemonPid(runtimeDir) === pid; i++) await sleep(100);
  rmSync(runtimeDir, { recursive: true, force: true, maxRetries: 5 });
}

/** Samples a process's peak resident set (VmHWM) until it exits: for bounds on herd's memory. */
export function watchPeak(child: { pid?: number | undefined; once(event: 'exit', listener: () => void): unknown }): { peakMb(): number } {
  let peakKb = 0;
  const timer = setInterval(() => {
    try {
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peakKb = Math.max(peakKb, kb);
    } catch {
      // gone
    }
  }, 50);
  child.once('exit', () => clearInterval(timer));
  return { peakMb: () => Math.round(peakKb / 1024) };
}

/** A login made for one test on the testbed's hosts (they share this machine's /etc/passwd), removed after. */
let logins = 0;
export function testLogin(sudoers: string | null): { name: string; home: string; uid: number; gid: number; remove(): Promise<void> } {
  // Test files share one process (uvu): each login gets a name of its own.
  const name = `herdl${process.pid % 100000}${String.fromCharCode(97 + (logins++ % 26))}`;
  const base = mkdtempSync(join(tmpdir(), 'herd-login-'));
  const home = join(base, 'home');
  execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', name]);
  execFileSync('chmod', ['755', base]);
  mkdirSync(home, { mode: 0o700 });
  execFileSync('chown', [`${name}:`, home]);
  // '*': no password, but not locked ('!'), which sshd refuses for every way of logging in.
  execFileSync('usermod', ['-p', '*', name]);
  const rule = `/etc/sudoers.d/herd-test-${process.pid}`;
  if (sudoers !== null) writeFileSync(rule, `${name} ${sudoers}\n`, { mode: 0o440 });
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim())) as [number, number];
  return {
    name,
    home,
    uid,
    gid,
    remove: async () => {
      rmSync(rule, { force: true });
      // Its rootless agents (one per host it reached) run as the login: ended before it goes.
      for (let i = 0; i < 50; i++) {
        const left = spawnSync('pkill', ['-KILL', '-u', name]).status === 0;
        if (!left) break;
        await sleep(100);
      }
      spawnSync('userdel', [name]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
