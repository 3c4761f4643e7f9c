import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, hostname as localHostname, userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { isIP } from 'node:net';
import { HerdError } from '../../protocol/errors.ts';
import { parseSshConfig, type Directive, type IncludeReader, type MatchCriterion, type ParsedSshConfig } from './sshConfigParse.ts';

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
  /**
   * ~/.ssh/config, then /etc/ssh/ssh_config (or only the file of -F / defaults.sshConfig): the
   * first value found wins, as in OpenSSH. `base` is where relative Includes lead; a user's file
   * unless `userConfig` says otherwise (default: any base but /etc/ssh).
   */
  files: Array<{ path: string; base: string; userConfig?: boolean }>;
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

/** glob(3)'s `*`, `?` and `[...]` for the last part of an Include path. */
function globToRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
}

/** The files an Include argument names: relative to ~/.ssh (a user's file) or /etc/ssh, ~ expanded, globs in the last part. */
function includeTargets(spec: string, base: string, home: string): string[] {
  const expanded = spec.startsWith('~/') ? join(home, spec.slice(2)) : spec;
  const full = isAbsolute(expanded) ? expanded : join(base, expanded);
  const dir = dirname(full);
  const last = full.slice(dir.length + 1);
  if (!/[*?[]/.test(last)) return existsSync(full) ? [full] : [];
  const regex = globToRegex(last);
  try {
    return readdirSync(dir).filter((n) => regex.test(n) && !n.startsWith('.')).sort().map((n) => join(dir, n));
  } catch {
    // no such directory: nothing to include, as in OpenSSH
    return [];
  }
}

function readOne(path: string, base: string, userConfig: boolean, home: string, depth: number): ParsedSshConfig | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const reader: IncludeReader = (spec, _from, nextDepth) =>
    includeTargets(spec, base, home).flatMap((file) => {
      const included = readOne(file, base, userConfig, home, nextDepth);
      return included === null ? [] : [included];
    });
  return parseSshConfig(text, path, userConfig, reader, depth);
}

/** The configuration of all sources, in order, each with what its Includes name. */
export function readSshConfig(sources: SshConfigSources): ParsedSshConfig[] {
  return sources.files.flatMap((f) => {
    const parsed = readOne(f.path, f.base, f.userConfig ?? f.base !== '/etc/ssh', sources.home, 0);
    return parsed === null ? [] : [parsed];
  });
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

/** OpenSSH's match_pattern: `*` any run of characters, `?` exactly one; case matters. */
function matchPattern(text: string, pattern: string): boolean {
  let regex = patternCache.get(pattern);
  if (regex === undefined) {
    regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    patternCache.set(pattern, regex);
  }
  return regex.test(text);
}
const patternCache = new Map<string, RegExp>();

/** A Host line: some pattern matches and no negated one does (a negated match rules the line out). */
function hostLineMatches(patterns: readonly string[], host: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (matchPattern(host, pattern.slice(1))) return false;
    } else if (matchPattern(host, pattern)) matched = true;
  }
  return matched;
}

/** OpenSSH's match_pattern_list (Match host, user…): comma-separated, `!` negates; true only when a positive one matches and no negated one does. */
function patternListMatches(text: string, list: string, ignoreCase: boolean): boolean {
  const value = ignoreCase ? text.toLowerCase() : text;
  let matched = false;
  for (const raw of list.split(',')) {
    const item = ignoreCase ? raw.toLowerCase() : raw;
    if (item.startsWith('!')) {
      if (matchPattern(value, item.slice(1))) return false;
    } else if (matchPattern(value, item)) matched = true;
  }
  return matched;
}

/** One pass over the configuration for one host: the first value of each keyword wins. */
interface Pass {
  /** What Host lines match: the name as given, or in the final pass the host name resolved. */
  host: string;
  original: string;
  final: boolean;
}

interface Resolution {
  values: Map<string, string[]>;
  identityFiles: Array<{ path: string; userConfig: boolean }>;
  wantFinal: boolean;
}

/** HostName's tokens: %h (the name as given) and %%. */
function expandHostname(value: string, host: string, where: string): string {
  return value.replace(/%(.)?/g, (all, token: string | undefined) => {
    if (token === '%') return '%';
    if (token === 'h') return host;
    throw new HerdError('CONFIG', `${where}: HostName: unknown token %${token ?? ''}`, { hint: 'HostName takes %h and %% only' });
  });
}

function matchLine(criteria: readonly MatchCriterion[], pass: Pass, state: Resolution, localUser: string, where: string): boolean {
  let result = true;
  for (const criterion of criteria) {
    let r: boolean;
    switch (criterion.attribute) {
      case 'all':
        r = true;
        break;
      case 'canonical':
      case 'final':
        if (criterion.attribute === 'final') state.wantFinal = true;
        r = pass.final;
        break;
      case 'host': {
        const named = state.values.get('hostname')?.[0];
        const host = pass.final || named === undefined ? pass.host : expandHostname(named, pass.host, where);
        r = patternListMatches(host, criterion.argument!, true);
        break;
      }
      case 'originalhost':
        r = patternListMatches(pass.original, criterion.argument!, true);
        break;
      case 'user':
        r = patternListMatches(state.values.get('user')?.[0] ?? localUser, criterion.argument!, false);
        break;
      case 'localuser':
        r = patternListMatches(localUser, criterion.argument!, false);
        break;
      default:
        // exec and localnetwork: herd runs no command and reads no interface to decide (docs/hosts.md).
        r = false;
    }
    if (r === criterion.negated) result = false;
  }
  return result;
}

/** Keywords whose first line's arguments are all kept (the others take one argument). */
const MULTI_ARGUMENT = new Set(['userknownhostsfile', 'globalknownhostsfile', 'sendenv', 'setenv', 'localforward', 'remoteforward', 'dynamicforward', 'proxycommand', 'localcommand', 'remotecommand', 'knownhostscommand', 'ignoreunknown', 'canonicaldomains', 'permitremoteopen', 'channeltimeout', 'ipqos', 'certificatefile', 'kexalgorithms', 'ciphers', 'macs', 'hostkeyalgorithms', 'pubkeyacceptedalgorithms', 'casignaturealgorithms', 'hostbasedacceptedalgorithms', 'canonicalizepermittedcnames', 'addkeystoagent', 'obscurekeystroketiming', 'forwardagent', 'identityagent', 'rekeylimit', 'securitykeyprovider', 'controlpath', 'escapechar', 'xauthlocation', 'tag', 'smartcarddevice', 'pkcs11provider', 'stdinnull', 'sessiontype', 'requesttty', 'enableescapecommandline']);
/** What herd reads, each taking exactly one argument as OpenSSH does. */
const ONE_ARGUMENT = new Set(['hostname', 'user', 'port', 'identityfile', 'identitiesonly', 'proxyjump', 'connecttimeout', 'serveraliveinterval', 'stricthostkeychecking']);

/**
 * OpenSSH checks a value where it stands, in blocks that do not apply too: a bad Port anywhere
 * in the file refuses the file, and so does herd, for what it reads.
 */
function checkValue(directive: Extract<Directive, { kind: 'option' }>): void {
  const { keyword, args, where } = directive;
  if (!ONE_ARGUMENT.has(keyword)) return;
  const bad = (what: string): HerdError => new HerdError('CONFIG', `${where}: ${what}`, { hint: 'ssh -G HOST shows how OpenSSH reads the same file' });
  if (args.length > 1) throw bad(`${keyword}: garbage at end of line (quote a value with spaces)`);
  const value = args[0]!;
  switch (keyword) {
    case 'port':
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw bad(`Port ${value} is not a port number (herd does not look up service names)`);
      return;
    case 'connecttimeout':
    case 'serveraliveinterval':
      if (!(keyword === 'connecttimeout' && value.toLowerCase() === 'none') && convtimeMs(value) === null) throw bad(`${keyword}: ${value} is not a time (10, 30s, 1m30s)`);
      return;
    case 'stricthostkeychecking':
      if (STRICT[value.toLowerCase()] === undefined) throw bad(`StrictHostKeyChecking ${value} is not yes, no, ask or accept-new`);
      return;
    case 'identitiesonly':
      if (FLAG[value.toLowerCase()] === undefined) throw bad(`IdentitiesOnly ${value} is not yes or no`);
      return;
    default:
  }
}

function apply(directive: Extract<Directive, { kind: 'option' }>, state: Resolution, file: ParsedSshConfig): void {
  const { keyword, args } = directive;
  if (keyword === 'identityfile') {
    const path = args[0]!;
    // OpenSSH keeps an identity file once, the first time it is named (by a user's file or the system's).
    if (!state.identityFiles.some((f) => f.path === path && f.userConfig === file.userConfig)) state.identityFiles.push({ path, userConfig: file.userConfig });
    return;
  }
  if (state.values.has(keyword)) return;
  // ConnectTimeout none is OpenSSH's "unset" (-1): a later line still sets it.
  if (keyword === 'connecttimeout' && args[0]!.toLowerCase() === 'none') return;
  // ProxyJump and ProxyCommand: whichever comes first wins, as OpenSSH does.
  if ((keyword === 'proxyjump' && state.values.has('proxycommand')) || (keyword === 'proxycommand' && state.values.has('proxyjump'))) return;
  state.values.set(keyword, MULTI_ARGUMENT.has(keyword) ? args : [args[0]!]);
}

function walk(files: readonly ParsedSshConfig[], pass: Pass, state: Resolution, localUser: string, active: { on: boolean }, neverMatch: boolean): void {
  for (const file of files) {
    for (const directive of file.directives) {
      switch (directive.kind) {
        case 'host':
          active.on = !neverMatch && hostLineMatches(directive.patterns, pass.host);
          break;
        case 'match': {
          // Evaluated even where it cannot apply: a `final` anywhere asks for the final pass.
          const matched = matchLine(directive.criteria, pass, state, localUser, directive.where);
          active.on = !neverMatch && matched;
          break;
        }
        case 'include': {
          // An included file shares the block it is included from; afterwards that block goes on.
          const was = active.on;
          walk(directive.files, pass, state, localUser, active, neverMatch || !was);
          active.on = was;
          break;
        }
        default:
          checkValue(directive);
          if (active.on) apply(directive, state, file);
      }
    }
  }
}

function passOver(files: readonly ParsedSshConfig[], pass: Pass, state: Resolution, localUser: string): void {
  // Each file (~/.ssh/config, /etc/ssh/ssh_config) begins outside any block: its first lines apply to all.
  for (const file of files) walk([file], pass, state, localUser, { on: true }, false);
}

const seconds = (value: string | undefined, keyword: string): number | null => {
  if (value === undefined || value.toLowerCase() === 'none') return null;
  const ms = convtimeMs(value);
  if (ms === null) throw new HerdError('CONFIG', `ssh config: ${keyword} ${value} is not a time`);
  return ms;
};

/** OpenSSH's convtime: 90, 90s, 1m30s, 2h, 1d, 1w. */
function convtimeMs(value: string): number | null {
  if (!/^(\d+[sSmMhHdDwW]?)+$/.test(value)) return null;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const [, n, u] of value.matchAll(/(\d+)([sSmMhHdDwW]?)/g)) total += Number(n) * (u === '' ? 1 : unit[u!.toLowerCase()]!);
  return total * 1000;
}

/** As ssh: the last hop (the one that reaches the host) may not be the host itself, by name, port and (where it names one) user. */
function checkJumpLoop(hops: readonly string[], to: { hostname: string; port: number; user: string }): void {
  const last = hops[hops.length - 1];
  if (last === undefined) return;
  const match = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(last);
  if (match === null) return;
  const [, user, host, port] = match;
  if (host === to.hostname && Number(port ?? 22) === to.port && (user === undefined || user === to.user)) {
    throw new HerdError('CONFIG', `ssh config: jumphost loop via ${host}: ProxyJump leads ${to.hostname} through itself`, { hint: 'a Host block that sets ProxyJump should leave out the jump host itself (Host * !bastion)' });
  }
}

const STRICT: Record<string, SshSettings['strictHostKeyChecking']> = { yes: 'yes', true: 'yes', no: 'no', false: 'no', off: 'no', ask: 'ask', 'accept-new': 'accept-new' };
const FLAG: Record<string, boolean> = { yes: true, true: true, no: false, false: false };

/**
 * Resolves one host as `ssh -G` does: passes over the files in order, Host lines against the name
 * as given (case matters), Match host against the HostName so far (case does not), the first value
 * of each keyword winning; a second pass, against the resolved name, when a `Match final` asks for
 * it. `Match exec` and `localnetwork` never match (herd runs nothing to decide).
 */
export function resolveSsh(host: string, files: readonly ParsedSshConfig[], sources: Pick<SshConfigSources, 'home' | 'localUser'>): SshSettings {
  const state: Resolution = { values: new Map(), identityFiles: [], wantFinal: false };
  passOver(files, { host, original: host, final: false }, state, sources.localUser);
  const named = state.values.get('hostname')?.[0];
  const expanded = named === undefined ? host : expandHostname(named, host, 'ssh config');
  // OpenSSH lowercases a name, not an address.
  const hostname = isIP(expanded) !== 0 || expanded.includes('%') ? expanded : expanded.toLowerCase();
  state.values.set('hostname', [hostname]);
  if (state.wantFinal) passOver(files, { host: hostname, original: host, final: true }, state, sources.localUser);
  const one = (keyword: string): string | undefined => state.values.get(keyword)?.[0];
  const portText = one('port') ?? '22';
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new HerdError('CONFIG', `ssh config: Port ${portText} for ${host} is not a port number`, { hint: 'herd takes a number for Port (service names are not looked up)' });
  const user = one('user') ?? sources.localUser;
  const strictText = (one('stricthostkeychecking') ?? 'ask').toLowerCase();
  const strict = STRICT[strictText];
  if (strict === undefined) throw new HerdError('CONFIG', `ssh config: StrictHostKeyChecking ${strictText} is not yes, no, ask or accept-new`);
  const only = FLAG[(one('identitiesonly') ?? 'no').toLowerCase()];
  if (only === undefined) throw new HerdError('CONFIG', `ssh config: IdentitiesOnly ${one('identitiesonly')} is not yes or no`);
  const jump = one('proxyjump');
  const hops = jump === undefined || jump.toLowerCase() === 'none' ? [] : jump.split(',').map((h) => h.trim()).filter(Boolean);
  checkJumpLoop(hops, { hostname, port, user });
  const knownHosts = state.values.get('userknownhostsfile') ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
  const context = { hostname, port, user, original: host };
  return {
    hostname,
    user,
    port,
    identityFiles: state.identityFiles.map((f) => f.path),
    identitiesOnly: only,
    proxyJump: hops,
    connectTimeoutMs: seconds(one('connecttimeout'), 'ConnectTimeout'),
    serverAliveIntervalMs: seconds(one('serveraliveinterval'), 'ServerAliveInterval') ?? 0,
    strictHostKeyChecking: strict,
    userKnownHostsFiles: knownHosts.map((p) => expandPath(p, context, sources)),
  };
}

/** The hosts the files name outright (Host lines' patterns without * ? or !), for completion. */
export function namedSshHosts(files: readonly ParsedSshConfig[]): string[] {
  const names = new Set<string>();
  const walk = (list: readonly ParsedSshConfig[]): void => {
    for (const file of list) {
      for (const d of file.directives) {
        if (d.kind === 'host') for (const p of d.patterns) if (!/[*?!]/.test(p)) names.add(p);
        if (d.kind === 'include') walk(d.files);
      }
    }
  };
  walk(files);
  return [...names];
}
