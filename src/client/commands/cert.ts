import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, issuedAt, issueCert, keyId, keyPairFromSecret, parseCert, type KeyPair } from '../../protocol/cert.ts';
import type { ClientIdentity } from '../../protocol/handshake.ts';
import { HerdError } from '../../protocol/errors.ts';
import { parseRevocations, signRevocations } from '../../protocol/revocations.ts';
import { ROLES, type Role } from '../../protocol/messages.ts';
import { loadConfig, saveConfig } from '../config/config.ts';
import { checkTtl } from '../config/lifetimes.ts';
import { parseDuration } from '../units/durations.ts';
import { ensureIdentity } from '../config/identity.ts';
import { globalOptions, type CommandModule, type CommandResult, type GlobalOptions } from './types.ts';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface IssueOptions extends GlobalOptions {
  name: string;
  role: string;
  ttl: string;
  out?: string;
}

const SUBJECT = /^[A-Za-z0-9._@-]{1,128}$/;

/** The CA key pair of a config that holds it; PERMISSION_DENIED, saying what could not be done, for any other. */
function caOf(identity: ClientIdentity, path: string, cannot: string, hint = 'run this on the admin config that created the CA'): KeyPair {
  if (identity.caSecretKey === undefined) throw new HerdError('PERMISSION_DENIED', `${path} holds no CA secret key, so it cannot ${cannot}`, { hint });
  return { publicKey: identity.caKey, secretKey: identity.caSecretKey };
}

/** Issues a certificate and key for someone else, as a ready-to-use herd config. */
export function certIssue(options: IssueOptions, io: Io): CommandResult {
  if (!SUBJECT.test(options.name)) throw new HerdError('INVALID_SPEC', `NAME: "${options.name}" must be 1-128 characters of letters, digits and . _ @ -`);
  if (!(ROLES as readonly string[]).includes(options.role)) throw new HerdError('INVALID_SPEC', `--role: "${options.role}" is not one of ${ROLES.join(', ')}`);
  const ttlSeconds = checkTtl(parseDuration(options.ttl, '--ttl'), options.ttl);
  const loaded = loadConfig(options.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const ca = caOf(identity, loaded.path, 'issue certificates');
  const key = generateKeyPair();
  const cert = issueCert(
    ca,
    { subject: options.name, role: options.role as Role, publicKey: key.publicKey, now: Math.floor(Date.now() / 1000), ttlSeconds },
  );
  const body = parseCert(cert).body;
  const config = { identity: { ca: { publicKey: toBase64Url(identity.caKey) }, cert, key: toBase64Url(key.secretKey) } };
  if (options.out !== undefined) {
    writeFileSync(options.out, stringify(config), { mode: 0o600 });
    io.stderr.write(`herd: wrote the identity of ${options.name} (${options.role}, valid until ${new Date(body.notAfter * 1000).toISOString()}) to ${options.out}\n`);
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ ...body, cert, key: config.identity.key, caPublicKey: config.identity.ca.publicKey, out: options.out ?? null }, null, 2)}\n`);
  } else if (options.out === undefined) {
    io.stdout.write(stringify(config));
  }
  return { exitCode: 0 };
}

export interface RenewOptions extends GlobalOptions {
  ttl: string;
}

/** A new certificate for the config's own key, subject and role, from the CA the config holds. */
export function certRenew(options: RenewOptions, io: Io): CommandResult {
  const ttlSeconds = checkTtl(parseDuration(options.ttl, '--ttl'), options.ttl);
  const loaded = loadConfig(options.config);
  // Renewing is the answer to the expiry notice: only a new identity is worth saying.
  const identity = ensureIdentity(loaded, (line) => void (line.startsWith('herd: created') && io.stderr.write(`${line}\n`)));
  const old = parseCert(identity.cert).body;
  const ca = caOf(identity, loaded.path, 'renew its own certificate', `ask an admin for a new one: herd cert issue ${old.subject} --role ${old.role}`);
  const cert = issueCert(
    ca,
    { subject: old.subject, role: old.role as Role, publicKey: keyPairFromSecret(identity.secretKey).publicKey, now: Math.floor(Date.now() / 1000), ttlSeconds },
  );
  loaded.document.setIn(['identity', 'cert'], cert);
  saveConfig(loaded);
  const body = parseCert(cert).body;
  const info = { subject: body.subject, role: body.role, serial: body.serial, previousSerial: old.serial, notAfter: new Date(body.notAfter * 1000).toISOString(), config: loaded.path };
  if (options.json) io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  else io.stderr.write(`herd: renewed ${info.subject} (${info.role}) until ${info.notAfter} in ${info.config}\n`);
  return { exitCode: 0 };
}

export interface RevokeOptions extends GlobalOptions {
  /** A serial (16 hex digits) or a subject. */
  what: string;
  /** For a subject: its certificates issued before this time (default: now). */
  before?: string;
}

const SERIAL = /^[0-9a-f]{16}$/;

/**
 * Adds a serial, or a subject's certificates issued before a time, to the CA's revocation list in
 * the config (a new version); every host learns it on its next connection from this config, or
 * at once with herd host sync.
 */
export function certRevoke(options: RevokeOptions, io: Io): CommandResult {
  const loaded = loadConfig(options.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const ca = caOf(identity, loaded.path, 'revoke certificates');
  const current = identity.revocations === undefined ? null : parseRevocations(identity.revocations, identity.caKey);
  const serials = new Set(current?.serials ?? []);
  const subjects = [...(current?.subjects ?? [])];
  const own = parseCert(identity.cert).body;
  const now = Math.floor(Date.now() / 1000);
  let revoked: { serial: string } | { subject: string; before: string };
  if (SERIAL.test(options.what)) {
    if (options.before !== undefined) throw new HerdError('INVALID_SPEC', '--before applies to a subject, not to a serial');
    if (serials.has(options.what)) throw new HerdError('INVALID_SPEC', `serial ${options.what} is revoked already (list version ${current?.version}); nothing changed`);
    if (options.what === own.serial) throw new HerdError('INVALID_SPEC', `serial ${options.what} is your own certificate's; nothing changed`, { hint: 'renew it first (herd cert renew), then revoke the old serial' });
    serials.add(options.what);
    revoked = { serial: options.what };
  } else {
    if (!SUBJECT.test(options.what)) throw new HerdError('INVALID_SPEC', `"${options.what}" is neither a serial (16 hex digits) nor a subject`);
    const beforeMs = options.before === undefined ? now * 1000 : Date.parse(options.before);
    if (Number.isNaN(beforeMs)) throw new HerdError('INVALID_SPEC', `--before: "${options.before}" is not a time (e.g. 2026-12-01T12:00:00Z)`);
    const before = Math.floor(beforeMs / 1000);
    if (options.what === own.subject && issuedAt(own) < before) {
      throw new HerdError('INVALID_SPEC', `that would revoke your own certificate (${own.subject}, issued ${new Date(issuedAt(own) * 1000).toISOString()}); nothing changed`, { hint: 'renew it first (herd cert renew), then revoke with --before the renewal' });
    }
    const existing = subjects.findIndex((s) => s.subject === options.what);
    if (existing >= 0) subjects[existing] = { subject: options.what, before: Math.max(before, subjects[existing]!.before) };
    else subjects.push({ subject: options.what, before });
    revoked = { subject: options.what, before: new Date(before * 1000).toISOString() };
  }
  const version = (current?.version ?? 0) + 1;
  const text = signRevocations({ version, serials, subjects }, ca, now);
  loaded.document.setIn(['identity', 'revocations'], text);
  saveConfig(loaded);
  const info = { revoked, version, serials: serials.size, subjects: subjects.length, bytes: text.length, config: loaded.path };
  if (options.json) io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  else {
    const what = 'serial' in revoked ? `serial ${revoked.serial}` : `certificates of ${revoked.subject} issued before ${revoked.before}`;
    io.stderr.write(`herd: revoked ${what} (revocation list version ${version}); hosts learn it on their next connection from this config, or now with: herd host sync -H HOSTS\n`);
  }
  return { exitCode: 0 };
}

/** Shows the identity in the config: who you are to the hosts. */
export function certShow(options: GlobalOptions, io: Io): CommandResult {
  const loaded = loadConfig(options.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const body = parseCert(identity.cert).body;
  const info = {
    subject: body.subject,
    role: body.role,
    serial: body.serial,
    notBefore: new Date(body.notBefore * 1000).toISOString(),
    notAfter: new Date(body.notAfter * 1000).toISOString(),
    ca: keyId(identity.caKey),
    holdsCa: identity.caSecretKey !== undefined,
    config: loaded.path,
  };
  if (options.json) io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  else {
    io.stdout.write(
      `subject   ${info.subject}\nrole      ${info.role}\nvalid     ${info.notBefore} .. ${info.notAfter}\nCA        ${info.ca}${info.holdsCa ? ' (this config holds the CA key)' : ''}\nconfig    ${info.config}\n`,
    );
  }
  return { exitCode: 0 };
}

export const certModule = {
  command: 'cert',
  describe: 'certificates: issue, renew, revoke, show',
  subcommands: [
    {
      command: 'issue <name>',
      describe: 'issue a certificate and key for NAME from the CA in your config',
      builder: (y) =>
        y
          .positional('name', { type: 'string', describe: 'subject of the certificate, e.g. alice or ci-bot', demandOption: true })
          .option('role', { type: 'string', choices: ['admin', 'user', 'viewer'], default: 'user', describe: 'what the holder may do' })
          .option('ttl', { type: 'string', default: '90d', describe: 'validity, e.g. 12h, 30d (at most 90d)' })
          .option('out', { type: 'string', describe: 'write a ready-to-use config file (mode 0600) instead of printing it' })
          .example('$0 cert issue alice --role user --ttl 30d --out alice.yml', 'a config file to hand to alice'),
      handler: (a, io) =>
        certIssue({ ...globalOptions(a), name: String(a.name), role: String(a.role), ttl: String(a.ttl), ...(typeof a.out === 'string' ? { out: a.out } : {}) }, io),
    },
    {
      command: 'renew',
      describe: 'a new certificate for your own key, subject and role (a config holding the CA)',
      builder: (y) =>
        y
          .option('ttl', { type: 'string', default: '90d', describe: 'validity of the new certificate (at most 90d)' })
          .example('$0 cert renew', 'another 90 days for the admin certificate in your config'),
      handler: (a, io) => certRenew({ ...globalOptions(a), ttl: String(a.ttl) }, io),
    },
    {
      command: 'revoke <what>',
      describe: 'revoke a certificate by serial, or a subject\'s certificates issued before a time',
      builder: (y) =>
        y
          .positional('what', { type: 'string', describe: 'a serial (16 hex digits, see herd cert issue --json) or a subject', demandOption: true })
          .option('before', { type: 'string', describe: 'for a subject: revoke its certificates issued before this time (default: now)' })
          .example('$0 cert revoke alice', 'every certificate of alice issued until now')
          .example('$0 cert revoke 3f2a9c0d11e84b76 && $0 host sync -H @all', 'one certificate, told to every host at once'),
      handler: (a, io) => certRevoke({ ...globalOptions(a), what: String(a.what), ...(typeof a.before === 'string' ? { before: a.before } : {}) }, io),
    },
    {
      command: 'show',
      describe: 'show the identity in your config: subject, role, validity, CA',
      builder: (y) => y,
      handler: (a, io) => certShow(globalOptions(a), io),
    },
  ] satisfies CommandModule[],
};
