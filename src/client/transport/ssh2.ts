import { existsSync, readFileSync } from 'node:fs';
import { Readable, type Duplex } from 'node:stream';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AnyAuthMethod, AuthenticationType, Client, ClientChannel, ConnectConfig } from 'ssh2';
import { asHerdError, HerdError } from '../../protocol/errors.ts';
import { canPrompt, passphraseFor } from './passphrase.ts';
import { fingerprint, judgeHostKey, keyType, knownHostsName, knownKeysIn, recordHostKey } from '../hosts/knownHosts.ts';
import { checkHostCertificate, isCertificateType } from '../hosts/sshCert.ts';
import { CERT_HOST_KEY_ALGORITHMS } from './ssh2HostCerts.ts';
import { bootstrapCommand } from './bootstrapCommand.ts';
import { once, runTrue } from './nodelay.ts';
import type { RawChannel } from './channel.ts';
import type { SshConnection, SshOptions, SshTarget } from './sshConnection.ts';

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** ssh2's own default host key algorithms, for a host known only through a CA. */
const DEFAULT_HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'];

/** Key types, in ssh2's algorithm names, that a recorded key type allows us to ask for. */
function hostKeyAlgorithms(types: string[]): string[] {
  const out: string[] = [];
  for (const type of types) {
    if (type === 'ssh-rsa') out.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else out.push(type);
  }
  return [...new Set(out)];
}

function expandHome(path: string): string {
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

interface AuthPlan {
  methods: AnyAuthMethod[];
  tried: string[];
  skipped: string[];
}

async function authPlan(target: SshTarget, options: SshOptions): Promise<AuthPlan> {
  const { utils } = (await import('ssh2')).default;
  const methods: AnyAuthMethod[] = [];
  const tried: string[] = [];
  const skipped: string[] = [];
  const agent = options.authSock ?? process.env.SSH_AUTH_SOCK;
  const configured = target.ssh?.identityFiles ?? [];
  // IdentitiesOnly: the configured key files, not whatever the agent holds.
  const useAgent = !(target.ssh?.identitiesOnly === true && configured.length > 0);
  if (useAgent && agent !== undefined && agent !== '') {
    methods.push({ type: 'agent', username: target.user, agent });
    tried.push('ssh-agent');
  }
  const files = configured.length > 0 ? configured.map(expandHome) : DEFAULT_KEYS.map((k) => join(homedir(), '.ssh', k));
  for (const file of files) {
    if (!existsSync(file)) continue;
    const key = readFileSync(file);
    const parsed = utils.parseKey(key);
    if (parsed instanceof Error) {
      if (!/passphrase/i.test(parsed.message)) {
        skipped.push(`${file} (unreadable)`);
        continue;
      }
      // Encrypted: asked on the terminal once per run; without one the key is skipped, and named.
      const passphrase = await passphraseFor(file, (p) => !(utils.parseKey(key, p) instanceof Error));
      if (passphrase === null) {
        skipped.push(`${file} (encrypted${canPrompt() ? '' : ', and no terminal to ask for its passphrase'})`);
        continue;
      }
      methods.push({ type: 'publickey', username: target.user, key, passphrase });
      tried.push(file);
      continue;
    }
    methods.push({ type: 'publickey', username: target.user, key });
    tried.push(file);
  }
  return { methods, tried, skipped };
}

function connectionError(err: Error & { level?: string; code?: string }, target: SshTarget, plan: AuthPlan): HerdError {
  const where = `${target.user}@${target.address}:${target.port}`;
  if (err.level === 'client-authentication') {
    const detail = [plan.tried.length > 0 ? `tried ${plan.tried.join(', ')}` : 'no agent and no key file found', ...plan.skipped.map((s) => `skipped ${s}`)];
    const encrypted = plan.skipped.filter((s) => s.includes('(encrypted'));
    const hint =
      encrypted.length > 0
        ? `add the encrypted key to ssh-agent (ssh-add ${encrypted[0]!.split(' (')[0]}), or run herd from a terminal to be asked for its passphrase`
        : 'load a key into ssh-agent, or set IdentityFile for this host in ~/.ssh/config (or identityFile in herd\'s config)';
    return new HerdError('SSH_AUTH', `authentication failed for ${where}: ${detail.join('; ')}`, { hint });
  }
  if (err.level === 'client-timeout') return new HerdError('HOST_UNREACHABLE', `${where}: timed out while connecting`);
  return new HerdError('HOST_UNREACHABLE', `cannot reach ${where}: ${err.message}`, { cause: err });
}

/** Connects with ssh2, checking the host key against known_hosts and authenticating like OpenSSH. */
export async function connectSsh(target: SshTarget, options: SshOptions): Promise<SshConnection> {
  const { client, hops } = await reach(target, options, 0);

  const wrap = (channel: ClientChannel, stderr: NodeJS.ReadableStream): RawChannel => {
    const exited = new Promise<number | null>((resolve) => {
      let code: number | null = null;
      channel.once('exit', (c: number | null) => {
        code = typeof c === 'number' ? c : null;
      });
      channel.once('close', () => resolve(code));
    });
    return { stdout: channel, stderr, stdin: channel, exited, close: () => channel.end() };
  };

  let open = true;
  client.once('close', () => (open = false));
  return {
    cheapForward: true,
    alive: () => open,
    bootstrap: (helper, become) => exec(bootstrapCommand(helper, become, options.shipRuntime)),
    exec,
    bulk: once(() => runTrue(exec)),
    forward: (socketPath) =>
      new Promise((resolve) => {
        client.openssh_forwardOutStreamLocal(socketPath, (err, channel) => {
          if (err) resolve(null);
          else resolve(wrap(channel, Readable.from([])));
        });
      }),
    close: () => {
      client.end();
      for (const hop of hops) hop.end();
    },
  };

  async function exec(command: string): Promise<RawChannel> {
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      client.exec(command, (err, ch) => (err ? reject(new HerdError('HELPER_START', `cannot start a command on ${target.name}: ${err.message}`)) : resolve(ch)));
    });
    return wrap(channel, channel.stderr);
  }
}

/** Jump hosts reached through jump hosts this deep are taken for a loop in the configuration. */
const MAX_JUMP_DEPTH = 8;

/**
 * A connection to `target` through its ProxyJump chain: each hop is reached through the one before
 * it, the host through the last. As with OpenSSH, the first hop's own ProxyJump is followed (it is
 * reached like any host); later hops are reached through the chain, whatever their own settings.
 */
async function reach(target: SshTarget, options: SshOptions, depth: number): Promise<{ client: Client; hops: Client[] }> {
  const hops: Client[] = [];
  let via: Client | null = null;
  try {
    for (const [i, spec] of (target.ssh?.proxyJump ?? []).entries()) {
      if (options.jumpTarget === undefined) throw new HerdError('INTERNAL', 'no way to resolve ProxyJump hosts');
      const hop = options.jumpTarget(spec);
      if (i === 0 && (hop.ssh?.proxyJump ?? []).length > 0) {
        if (depth >= MAX_JUMP_DEPTH) throw new HerdError('INVALID_SPEC', `ProxyJump: ${spec} is reached through ${MAX_JUMP_DEPTH} jump hosts or more: a loop in ~/.ssh/config?`);
        const inner = await reach(hop, options, depth + 1);
        hops.push(...inner.hops, inner.client);
        via = inner.client;
        continue;
      }
      via = await sshLogin(hop, options, via === null ? undefined : await tunnel(via, hop, target));
      hops.push(via);
    }
  } catch (err) {
    for (const hop of hops) hop.end();
    throw asHerdError(err).withHost(target.name);
  }
  try {
    return { client: await sshLogin(target, options, via === null ? undefined : await tunnel(via, target, target)), hops };
  } catch (err) {
    for (const hop of hops) hop.end();
    throw err;
  }
}

/** A TCP stream to `hop` opened by the jump host `via` (what ssh -J does with direct-tcpip). */
function tunnel(via: Client, hop: SshTarget, target: SshTarget): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, hop.address, hop.port, (err, stream) => {
      if (err) reject(new HerdError('HOST_UNREACHABLE', `the jump host could not reach ${hop.address}:${hop.port} on the way to ${target.name}: ${err.message}`));
      else resolve(stream);
    });
  });
}

/** One SSH login (SSH's own handshake, not herd's), directly or over `sock` (a tunnel through a jump host), host key checked, authenticated. */
async function sshLogin(target: SshTarget, options: SshOptions, sock?: Duplex): Promise<Client> {
  const { Client } = (await import('ssh2')).default;
  // UserKnownHostsFile: every file is read; a new key is recorded in the first.
  const files = options.knownHostsFile !== undefined ? [options.knownHostsFile] : (target.ssh?.userKnownHostsFiles ?? []).length > 0 ? target.ssh!.userKnownHostsFiles : [join(homedir(), '.ssh', 'known_hosts')];
  const knownHostsFile = files[0]!;
  const known = knownKeysIn(files, target.address, target.port);
  // StrictHostKeyChecking no or accept-new records unknown hosts like --accept-new; a changed key is always refused.
  const acceptNew = options.acceptNew || target.ssh?.strictHostKeyChecking === 'accept-new' || target.ssh?.strictHostKeyChecking === 'no';
  const plan = await authPlan(target, options);
  let keyProblem: HerdError | null = null;

  const config: ConnectConfig = {
    host: target.address,
    port: target.port,
    ...(sock === undefined ? {} : { sock: sock as never }),
    username: target.user,
    readyTimeout: target.ssh?.connectTimeoutMs ?? options.connectTimeoutMs,
    ...(target.ssh !== undefined && target.ssh.serverAliveIntervalMs > 0 ? { keepaliveInterval: target.ssh.serverAliveIntervalMs } : {}),
    authHandler: (_left, _partial, next) => next(plan.methods.shift() ?? (false as unknown as AuthenticationType)),
    hostVerifier: (key: Buffer) => {
      const name = knownHostsName(target.address, target.port);
      if (isCertificateType(keyType(key))) {
        // Asked for only where known_hosts trusts a CA for this host (see below).
        const cert = checkHostCertificate(key, target.address, known.authorities.map((k) => k.blob), known.revoked.map((k) => k.blob), Math.floor(Date.now() / 1000));
        if (cert.ok) return true;
        keyProblem = new HerdError('HOST_KEY_UNKNOWN', `${name} presented a host certificate that is refused: ${cert.why}`, {
          hint: 'the host\'s certificate must be signed by a CA of an @cert-authority line for it, name it among its principals, and be valid now',
        });
        return false;
      }
      const verdict = judgeHostKey(known, key);
      if (verdict === 'known') return true;
      if (verdict === 'revoked') {
        // Never accepted, never recorded, whatever --accept-new or StrictHostKeyChecking say.
        keyProblem = new HerdError('HOST_KEY_REVOKED', `the host key of ${name} (${fingerprint(key)}) is revoked in known_hosts (@revoked); refusing to connect`, {
          hint: 'a revoked key means the host\'s key was compromised or retired: ask whoever runs the host for its new key',
        });
        return false;
      }
      if (verdict === 'changed') {
        keyProblem = new HerdError('HOST_KEY_MISMATCH', `the host key of ${name} has changed (now ${fingerprint(key)}); refusing to connect`, {
          hint: `if the change is expected, remove the old key with: ssh-keygen -R '${name}' -f ${knownHostsFile}`,
        });
        return false;
      }
      if (verdict === 'authority') {
        // Only a host certificate from that CA may pass; recording the plain key would bypass the CA.
        keyProblem = new HerdError('HOST_KEY_UNKNOWN', `${name} is to be trusted through a host certificate (@cert-authority in known_hosts), but it presented a plain key (${fingerprint(key)})`, {
          hint: 'configure a HostCertificate in its sshd, or record this host\'s own key in known_hosts',
        });
        return false;
      }
      if (acceptNew) {
        recordHostKey(knownHostsFile, target.address, target.port, key);
        return true;
      }
      keyProblem = new HerdError('HOST_KEY_UNKNOWN', `${name} is not a known host (key fingerprint ${fingerprint(key)})`, {
        hint: 'check the fingerprint, then run again with --accept-new to record it',
      });
      return false;
    },
  };
  // Ask only for key types we have on record, as OpenSSH does, so a known host is not "changed" by algorithm choice.
  // Where a CA is trusted for the host, its certificates first (as OpenSSH orders them).
  const plainAlgorithms = known.keys.length > 0 ? hostKeyAlgorithms(known.keys.map((k) => k.type)) : known.authorities.length > 0 ? DEFAULT_HOST_KEY_ALGORITHMS : null;
  if (plainAlgorithms !== null) config.algorithms = { serverHostKey: [...(known.authorities.length > 0 ? CERT_HOST_KEY_ALGORITHMS : []), ...plainAlgorithms] as never };

  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', (err: Error & { level?: string }) => reject(keyProblem ?? connectionError(err, target, plan)));
    client.connect(config);
    // Every message of the SSH handshake and of ours is small and latency-bound: with Nagle each
    // would wait for the peer's delayed ACK (40 ms). Applied by node once the socket connects.
    if (sock === undefined) client.setNoDelay(true);
  });
  client.on('error', () => {
    // after ready, failures surface as channels closing
  });
  return client;
}
