import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import { bootstrapCommand } from './bootstrapCommand.ts';
import { once } from './nodelay.ts';
import { runtimeDir } from '../state/localState.ts';
import type { RawChannel } from './channel.ts';
import { dialUnix, socketChannel } from './unixSocket.ts';
import { homes, opensshArgs, opensshDestination, opensshFailure } from './opensshArgs.ts';
import type { SshConnection, SshOptions, SshTarget } from './sshConnection.ts';

/** Stderr kept from each ssh process, for the error it explains. */
const STDERR_KEEP = 4096;
/** How often we look for the forwarded socket while ssh connects. */
const FORWARD_POLL_MS = 5;

/** Keeps the last STDERR_KEEP characters a child wrote to stderr. */
function stderrOf(child: ChildProcess): () => string {
  let kept = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    kept = (kept + chunk.toString('utf8')).slice(-STDERR_KEEP);
  });
  return () => kept;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('close', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
}

/**
 * Reaches hosts with the system `ssh` binary: the user's OpenSSH with everything it supports
 * (ProxyCommand, OpenSSH certificates, ControlMaster, GSSAPI). Each channel is one ssh process.
 */
export function connectOpenSsh(target: SshTarget, options: SshOptions): SshConnection {
  const persisted = (options.persistMs ?? 0) > 0;
  const base = opensshArgs(target, options, persisted ? { ...homes(), controlDir: runtimeDir() } : homes());
  const destination = opensshDestination(target);
  const children = new Set<ChildProcess>();
  const start = (args: string[], stdio: 'pipe' | 'ignore'): ChildProcess => {
    const child = spawn('ssh', [...base, ...args], { stdio: [stdio, stdio, 'pipe'] });
    children.add(child);
    child.once('close', () => children.delete(child));
    child.once('error', () => children.delete(child));
    return child;
  };
  const spawnFailed = (child: ChildProcess): Promise<HerdError> =>
    new Promise((resolve) =>
      child.once('error', (err: NodeJS.ErrnoException) =>
        resolve(new HerdError('HOST_UNREACHABLE', err.code === 'ENOENT' ? '--transport openssh: no ssh binary on the PATH' : `cannot run ssh: ${err.message}`)),
      ),
    );

  // The control socket of the last forwarder: a private ControlMaster, so bulk() can start a session on its connection.
  let control: string | null = null;
  return {
    cheapForward: false,
    alive: () => true,
    bootstrap: async (helper, become) => {
      const child = start(['-T', '--', destination, bootstrapCommand(helper, become, options.shipRuntime)], 'pipe');
      const stderr = stderrOf(child);
      const exited = exitOf(child);
      void spawnFailed(child);
      child.stdin!.on('error', () => {
        // ssh went away; the session reports the lost connection
      });
      return {
        stdout: child.stdout!,
        stderr: child.stderr!,
        stdin: child.stdin!,
        exited,
        // Exit status 255 is ssh's own: it never reached the host's shell.
        failure: (code) => (code === 255 ? opensshFailure(stderr(), target) : null),
        close: () => child.stdin!.end(),
      };
    },
    // Through a ControlMaster, -L forwards would be set up in (and outlive us in) the master: bootstrap instead.
    forward: async (socketPath) => {
      if (persisted) return null;
      const forwarded = await forwardOnce(start, socketPath, target, spawnFailed);
      control = forwarded?.control ?? null;
      return forwarded?.channel ?? null;
    },
    // See nodelay.ts: `true` in a session on the forwarder's connection, through its control socket.
    // (With --persist every run bootstraps in a session already.)
    bulk: once(() => {
      if (control === null) return;
      const child = start(['-o', 'ControlMaster=no', '-o', `ControlPath=${control}`, '-T', '--', destination, 'true'], 'ignore');
      child.once('error', () => {});
    }),
    close: () => {
      // Our channels have been ended; an ssh still running after a moment is stuck on a dead link.
      for (const child of children) setTimeout(() => child.kill('SIGTERM'), 2000).unref();
    },
  };
}

let forwards = 0;
/** Forwarding ssh processes (-N) never end by themselves: whatever happens to us, they end with us. */
const forwarders = new Set<ChildProcess>();
let reaperInstalled = false;
function trackForwarder(child: ChildProcess): void {
  forwarders.add(child);
  child.once('close', () => forwarders.delete(child));
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => {
    for (const f of forwarders) f.kill('SIGTERM');
  });
}

/**
 * The agent's socket through a local one: `ssh -N -L local:remote`. (ssh -W cannot reach unix
 * sockets before OpenSSH 9.x, Debian 12 has 9.2.) Null when the host refuses the channel (no
 * agent there, or AllowStreamLocalForwarding no); failing to reach the host at all is an error.
 */
async function forwardOnce(
  start: (args: string[], stdio: 'pipe' | 'ignore') => ChildProcess,
  socketPath: string,
  target: SshTarget,
  spawnFailed: (child: ChildProcess) => Promise<HerdError>,
): Promise<{ channel: RawChannel; control: string } | null> {
  const local = join(runtimeDir(), `fwd-${process.pid}-${++forwards}.sock`);
  // Its own ControlMaster, never the user's: a forward set up in a master of theirs would outlive us
  // there; and through this one a session can be started later on the same connection (bulk()).
  const control = join(runtimeDir(), `fwd-${process.pid}-${forwards}.ctl`);
  rmSync(local, { force: true });
  const child = start(
    ['-N', '-o', 'ExitOnForwardFailure=yes', '-o', 'ClearAllForwardings=no', '-o', 'ControlMaster=yes', '-o', `ControlPath=${control}`, '-o', 'ControlPersist=no', '-L', `${local}:${socketPath}`, '--', opensshDestination(target)],
    'ignore',
  );
  trackForwarder(child);
  const stderr = stderrOf(child);
  const exited = exitOf(child);
  const stop = (): void => {
    rmSync(local, { force: true });
    if (child.exitCode === null) child.kill('SIGTERM');
    else rmSync(control, { force: true });
  };
  let gone: HerdError | null = null;
  void spawnFailed(child).then((e) => (gone = e));
  void exited.then((code) => (gone ??= code === 255 ? opensshFailure(stderr(), target) : new HerdError('HOST_UNREACHABLE', `ssh exited (status ${code}) before forwarding`)));
  while (!isSocket(local)) {
    if (gone !== null) {
      stop();
      throw gone;
    }
    await new Promise((r) => setTimeout(r, FORWARD_POLL_MS));
  }
  const socket = await dialUnix(local);
  // Connected: the path is no longer needed, and nobody else should use it.
  rmSync(local, { force: true });
  if (socket === null) {
    stop();
    return null;
  }
  // The agent speaks first (hello). ssh closes our connection without a byte when the host refused.
  const spoke = await new Promise<boolean>((resolve) => {
    socket.once('readable', () => resolve(socket.readableLength > 0));
    socket.once('error', () => resolve(false));
  });
  if (!spoke) {
    socket.destroy();
    stop();
    return null;
  }
  // What we wrote last (a goodbye) may die with the forwarder: the agent takes EOF the same way.
  const channel = socketChannel(socket, () => {
    socket.end();
    stop();
  });
  void channel.exited.then(stop);
  return { channel, control };
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
