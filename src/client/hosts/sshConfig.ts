import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, hostname as localHostname, userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import SSHConfig from 'ssh-config';
import { HerdError } from '../../protocol/errors.ts';

/**
 * What OpenSSH's configuration says about reaching one host: the settings herd uses, as `ssh -G`
 * would resolve them (tests compare the two). Values are resolved; IdentityFile entries keep
 * their tokens until expandPath, as `ssh -G` prints them.
 */
export interface SshSettings {
  hostname: string;
  user: string;
  port: number;
  /** Configured IdentityFile entries (empty: OpenSSH's default keys). */
  identityFiles: string[];
  identitiesOnly: boolean;
  /** Hops to go through, in order (`ProxyJump`), or none. */
  proxyJump: string[];
  connectTimeoutMs: number | null;
  serverAliveIntervalMs: number;
  strictHostKeyChecking: 'yes' | 'no' | 'accept-new' | 'ask';
  userKnownHostsFiles: string[];
}

export interface SshConfigSources {
  /** ~/.ssh/config, then /etc/ssh/ssh_config: the first value found wins, as in OpenSSH. */
  files: Array<{ path: string; base: string }>;
  home: string;
  localUser: string;
}

export function defaultSources(): SshConfigSources {
  const home = homedir();
  let localUser = process.env.USER ?? 'root';
  try {
    localUser = userInfo().username;
  } catch {
    // no passwd entry
  }
  return {
    files: [
      { path: join(home, '.ssh', 'config'), base: join(home, '.ssh') },
      { path: '/etc/ssh/ssh_config', base: '/etc/ssh' },
    ],
    home,
    localUser,
  };
}

function globToRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
}

/** The files an Include names: relative to ~/.ssh (or /etc/ssh), ~ expanded, globs in the last part. */
function includeTargets(spec: string, base: string, home: string): string[] {
  const paths: string[] = [];
  for (const word of spec.split(/\s+/).filter(Boolean)) {
    const expanded = word.startsWith('~/') ? join(home, word.slice(2)) : word;
    const full = isAbsolute(expanded) ? expanded : join(base, expanded);
    const dir = dirname(full);
    const last = full.slice(dir.length + 1);
    if (!/[*?]/.test(last)) {
      if (existsSync(full)) paths.push(full);
      continue;
    }
    const regex = globToRegex(last);
    try {
      paths.push(...readdirSync(dir).filter((n) => regex.test(n)).sort().map((n) => join(dir, n)));
    } catch {
      // no such directory: nothing to include, as in OpenSSH
    }
  }
  return paths;
}

/** A config file's text with its Include lines replaced by what they name (up to 16 levels deep). */
function inlineIncludes(path: string, base: string, home: string, depth = 0): string {
  if (depth > 16) throw new HerdError('CONFIG', `${path}: Include nested too deeply`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  return text
    .split('\n')
    .map((line) => {
      const match = /^\s*include(?:\s+|\s*=\s*)(.+)$/i.exec(line);
      if (match === null) return line;
      return includeTargets(match[1]!.trim(), base, home).map((file) => inlineIncludes(file, base, home, depth + 1)).join('\n');
    })
    .join('\n');
}

/** The configuration text of all sources, in order, Includes inlined. */
export function readSshConfig(sources: SshConfigSources): string {
  return sources.files.map((f) => inlineIncludes(f.path, f.base, sources.home)).join('\n');
}

/** Expands ~ and the tokens OpenSSH allows in IdentityFile and UserKnownHostsFile. */
export function expandPath(path: string, s: { hostname: string; port: number; user: string; original: string }, sources: Pick<SshConfigSources, 'home' | 'localUser'>): string {
  const withHome = path === '~' ? sources.home : path.startsWith('~/') ? join(sources.home, path.slice(2)) : path;
  return withHome.replace(/%([%hprudnlL])/g, (_all, token: string) => {
    switch (token) {
      case '%':
        return '%';
      case 'h':
        return s.hostname;
      case 'p':
        return String(s.port);
      case 'r':
        return s.user;
      case 'u':
        return sources.localUser;
      case 'd':
        return sources.home;
      case 'n':
        return s.original;
      case 'l':
        return localHostname();
      default:
        return localHostname().split('.')[0]!;
    }
  });
}

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
const all = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

let lastParsed: { text: string; config: ReturnType<typeof SSHConfig.parse> } | null = null;

/** The configuration parsed once for all the hosts of a run (parsing it per host was 10 ms per 50 hosts). */
function parsedConfig(text: string): ReturnType<typeof SSHConfig.parse> {
  if (lastParsed?.text !== text) lastParsed = { text, config: SSHConfig.parse(text) };
  return lastParsed.config;
}

/** Resolves one host against the configuration text (see readSshConfig). `Match exec` is not run. */
export function resolveSsh(host: string, text: string, sources: Pick<SshConfigSources, 'home' | 'localUser'>): SshSettings {
  let computed: Record<string, string | string[]>;
  try {
    computed = parsedConfig(text).compute(host, { ignoreCase: true, matchExec: false } as never) as Record<string, string | string[]>;
  } catch (err) {
    throw new HerdError('CONFIG', `ssh config: ${(err as Error).message}`);
  }
  const port = Number(first(computed.port) ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new HerdError('CONFIG', `ssh config: Port ${String(first(computed.port))} for ${host} is not a port`);
  const user = first(computed.user) ?? sources.localUser;
  const rawHostname = first(computed.hostname) ?? host;
  const hostname = rawHostname.replace(/%%|%h/g, (t) => (t === '%%' ? '%' : host));
  const seconds = (value: string | undefined): number | null => {
    if (value === undefined || value === 'none') return null;
    const n = Number(value);
    return Number.isFinite(n) && n >= 0 ? n * 1000 : null;
  };
  const strict = (first(computed.stricthostkeychecking) ?? 'ask').toLowerCase();
  const jump = first(computed.proxyjump);
  const knownHosts = all(computed.userknownhostsfile).flatMap((v) => v.split(/\s+/)).filter(Boolean);
  const context = { hostname, port, user, original: host };
  return {
    hostname,
    user,
    port,
    identityFiles: all(computed.identityfile),
    identitiesOnly: (first(computed.identitiesonly) ?? 'no').toLowerCase() === 'yes',
    proxyJump: jump === undefined || jump.toLowerCase() === 'none' ? [] : jump.split(',').map((h) => h.trim()).filter(Boolean),
    connectTimeoutMs: seconds(first(computed.connecttimeout)),
    serverAliveIntervalMs: seconds(first(computed.serveraliveinterval)) ?? 0,
    strictHostKeyChecking: strict === 'off' || strict === 'no' ? 'no' : strict === 'accept-new' ? 'accept-new' : strict === 'yes' ? 'yes' : 'ask',
    userKnownHostsFiles: (knownHosts.length > 0 ? knownHosts : ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).map((p) => expandPath(p, context, sources)),
  };
}
