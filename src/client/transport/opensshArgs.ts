import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { HerdError } from '../../protocol/errors.ts';
import type { SshOptions, SshTarget } from './sshConnection.ts';

/** Where ssh looks for its files (the passwd entry) and where herd looks for them ($HOME). */
export interface OpensshHomes {
  home: string;
  passwdHome: string;
  /** Where ControlMaster sockets go (--persist). */
  controlDir?: string;
}

/** The home directory in the passwd entry of a uid, as getpwuid(3) gives it to ssh; null if none. */
export function passwdHomeOf(passwd: string, uid: number): string | null {
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 7 && Number(fields[2]) === uid) return fields[5]!;
  }
  return null;
}

export function homes(): OpensshHomes {
  // Not os.userInfo().homedir: under bun it follows $HOME, and ssh does not.
  let passwdHome: string | null = null;
  try {
    passwdHome = passwdHomeOf(readFileSync('/etc/passwd', 'utf8'), process.getuid?.() ?? -1);
  } catch {
    // no /etc/passwd: below
  }
  if (passwdHome === null) {
    try {
      passwdHome = userInfo().homedir;
    } catch {
      passwdHome = homedir();
    }
  }
  return { home: homedir(), passwdHome };
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** ssh_config quoting for one -o value that may hold spaces. */
const quoted = (path: string): string => `"${path.replace(/(["\\])/g, '\\$1')}"`;

/**
 * The options that make the system `ssh` reach a host exactly as herd would with ssh2: the same
 * user, port, known_hosts files and keys, no prompts. OpenSSH finds its files from the passwd
 * entry and herd from $HOME; when the two differ, herd's are named explicitly.
 */
export function opensshArgs(target: SshTarget, options: SshOptions, where: OpensshHomes = homes()): string[] {
  const connectTimeoutMs = target.ssh?.connectTimeoutMs ?? options.connectTimeoutMs;
  const args = ['-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', `ConnectTimeout=${Math.max(1, Math.ceil(connectTimeoutMs / 1000))}`];
  const ownHome = where.home !== where.passwdHome;
  if (options.sshConfigFile !== undefined) args.push('-F', options.sshConfigFile);
  else if (ownHome) {
    const config = join(where.home, '.ssh', 'config');
    args.push('-F', existsSync(config) ? config : 'none');
  }
  // Always explicit: with `StrictHostKeyChecking no` in ~/.ssh/config, ssh would connect to a host
  // whose key changed. accept-new where herd's ssh2 path would accept new hosts; never "no".
  const strict = target.ssh?.strictHostKeyChecking;
  args.push('-o', `StrictHostKeyChecking=${options.acceptNew || strict === 'accept-new' || strict === 'no' ? 'accept-new' : 'yes'}`);
  const knownHosts = options.knownHostsFile !== undefined ? [options.knownHostsFile] : (target.ssh?.userKnownHostsFiles ?? []);
  if (knownHosts.length > 0) args.push('-o', `UserKnownHostsFile=${knownHosts.map(quoted).join(' ')}`);
  else if (ownHome) args.push('-o', `UserKnownHostsFile=${quoted(join(where.home, '.ssh', 'known_hosts'))}`);
  const keys = target.ssh?.identityFiles ?? [];
  // ssh warns about a missing -i file on the terminal; herd's ssh2 path skips them quietly too.
  const candidates = keys.length > 0 ? keys : ownHome ? DEFAULT_KEYS.map((k) => join(where.home, '.ssh', k)) : [];
  for (const key of candidates.filter((f) => existsSync(f))) args.push('-i', key);
  // --persist is OpenSSH's own ControlPersist here: the first ssh becomes a background master.
  const persistMs = options.persistMs ?? 0;
  if (persistMs > 0 && where.controlDir !== undefined) {
    args.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${join(where.controlDir, 'cm-%C')}`, '-o', `ControlPersist=${Math.max(1, Math.ceil(persistMs / 1000))}s`);
  }
  args.push('-l', target.user, '-p', String(target.port));
  return args;
}

/** The name ssh is given: the one ~/.ssh/config knows the host by, so its Host blocks (ProxyCommand...) apply. */
export function opensshDestination(target: SshTarget): string {
  return target.alias ?? target.address;
}

/** What an `ssh` that exited 255 before herd's helper spoke says went wrong, as herd's error. */
export function opensshFailure(stderr: string, target: SshTarget): HerdError {
  const where = `${target.user}@${target.address}:${target.port}`;
  const said = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('@@@') && !/^@\s*$/.test(l));
  const last = said.at(-1) ?? 'ssh exited with status 255';
  if (/REVOKED HOST KEY DETECTED|is marked as revoked/.test(stderr)) {
    return new HerdError('HOST_KEY_REVOKED', `the host key of ${where} is revoked in known_hosts (@revoked); refusing to connect (ssh: ${last})`, {
      hint: 'a revoked key means the host\'s key was compromised or retired: ask whoever runs the host for its new key',
    });
  }
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)) {
    return new HerdError('HOST_KEY_MISMATCH', `the host key of ${where} has changed; refusing to connect (ssh: ${said.find((l) => /fingerprint/i.test(l)) ?? last})`, {
      hint: `if the change is expected, remove the old key with: ssh-keygen -R '${target.address}'`,
    });
  }
  if (/Host key verification failed|No .* host key is known/.test(stderr)) {
    return new HerdError('HOST_KEY_UNKNOWN', `${where} is not a known host (ssh: ${last})`, { hint: 'check its fingerprint, then run again with --accept-new to record it' });
  }
  if (/Permission denied \(|Too many authentication failures/.test(stderr)) {
    return new HerdError('SSH_AUTH', `authentication failed for ${where} (ssh: ${last})`, {
      hint: 'with --transport openssh, herd never prompts: load the key into ssh-agent (ssh-add), or set IdentityFile for this host in ~/.ssh/config',
    });
  }
  return new HerdError('HOST_UNREACHABLE', `cannot reach ${where} (ssh: ${last})`);
}
