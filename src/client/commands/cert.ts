import { writeFileSync } from 'node:fs';
import { jsonDocument } from '../output/jsonDocument.ts';
import { stringify } from 'yaml';
import { toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, issuedAt, issueCert, keyId, keyPairFromSecret, parseCert, type KeyPair } from '../../protocol/cert.ts';
import type { ClientIdentity } from '../../protocol/handshake.ts';
import { HerdError } from '../../protocol/errors.ts';
import { issueTimeUnder, lockBefore, parseRevocations, signRevocations, type Revocations, type SubjectLock } from '../../protocol/revocations.ts';
import { ROLES, type Role } from '../../protocol/messages.ts';
import { loadConfig, saveConfig, type LoadedConfig } from '../config/config.ts';
import { entryOf, readIssued, recordIssued, statusOf, type CertStatus, type IssuedEntry } from '../config/issuedRecord.ts';
import { formatTable } from '../output/table.ts';
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
  /** Revoke the subject's valid certificates and issue anew. */
  replace?: boolean;
}

const SUBJECT = /^[A-Za-z0-9._@-]{1,128}$/;

/** The CA key pair of a config that holds it; PERMISSION_DENIED, saying what could not be done, for any other. */
function caOf(identity: ClientIdentity, path: string, cannot: string, hint = 'run this on the admin config that created the CA'): KeyPair {
  if (identity.caSecretKey === undefined) throw new HerdError('PERMISSION_DENIED', `${path} holds no CA secret key, so it cannot ${cannot}`, { hint });
  return { publicKey: identity.caKey, secretKey: identity.caSecretKey };
}

/** The CA's list in the config, checked; null when it has none yet. */
function currentList(identity: ClientIdentity): Revocations | null {
  return identity.revocations === undefined ? null : parseRevocations(identity.revocations, identity.caKey);
}

/** Signs the next version of the CA's list with `serials` and `locks` added, and writes it into the config. */
function reviseList(loaded: LoadedConfig, identity: ClientIdentity, ca: KeyPair, change: { serials?: readonly string[]; lock?: SubjectLock }): { version: number; serials: number; subjects: number; bytes: number } {
  const current = currentList(identity);
  const serials = new Set([...(current?.serials ?? []), ...(change.serials ?? [])]);
  const subjects = [...(current?.subjects ?? [])];
  if (change.lock !== undefined) {
    const lock = change.lock;
    const existing = subjects.findIndex((s) => s.subject === lock.subject);
    if (existing >= 0) subjects[existing] = { subject: lock.subject, before: Math.max(lock.before, subjects[existing]!.before) };
    else subjects.push(lock);
  }
  const version = (current?.version ?? 0) + 1;
  const text = signRevocations({ version, serials, subjects }, ca, Math.floor(Date.now() / 1000));
  loaded.document.setIn(['identity', 'revocations'], text);
  identity.revocations = text;
  return { version, serials: serials.size, subjects: subjects.length, bytes: text.length };
}

/** The valid certificates of `subject` from this CA: by the record, and the config's own. */
function holdersOf(subject: string, loaded: LoadedConfig, identity: ClientIdentity, nowSeconds: number): IssuedEntry[] {
  const ca = keyId(identity.caKey);
  const list = currentList(identity);
  const own = entryOf(parseCert(identity.cert).body, new Date(0));
  const record = readIssued(loaded.path).entries.filter((e) => e.serial !== own.serial);
  return [own, ...record].filter((e) => e.subject === subject && e.ca === ca && e.role !== 'host' && statusOf(e, list, nowSeconds).status === 'valid');
}

/** Issues a certificate and key for someone else, as a ready-to-use herd config. */
export function certIssue(options: IssueOptions, io: Io): CommandResult {
  if (!SUBJECT.test(options.name)) throw new HerdError('INVALID_SPEC', `NAME: "${options.name}" must be 1-128 characters of letters, digits and . _ @ -`);
  if (!(ROLES as readonly string[]).includes(options.role)) throw new HerdError('INVALID_SPEC', `--role: "${options.role}" is not one of ${ROLES.join(', ')}`);
  const ttlSeconds = checkTtl(parseDuration(options.ttl, '--ttl'), options.ttl);
  const loaded = loadConfig(options.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const ca = caOf(identity, loaded.path, 'issue certificates');
  const lock = currentList(identity)?.subjects.find((s) => s.subject === options.name);
  const now = issueTimeUnder(lock, Math.floor(Date.now() / 1000));
  if (now === null) {
    throw new HerdError('INVALID_SPEC', `certificates of ${options.name} issued before ${new Date(lock!.before * 1000).toISOString()} are revoked: one issued now would be refused; nothing issued`, { hint: 'choose another name, or issue it after that time' });
  }
  // A subject is one holder: two certificates of one name would own, and stop, each other's jobs.
  const holders = holdersOf(options.name, loaded, identity, now);
  let replaced: { serials: string[]; version: number } | null = null;
  if (holders.length > 0) {
    const ownSerial = parseCert(identity.cert).body.serial;
    const first = holders[0]!;
    if (holders.some((h) => h.serial === ownSerial)) throw new HerdError('INVALID_SPEC', `"${options.name}" is the subject of your own certificate; nothing issued`, { hint: 'renew your own with herd cert renew, or choose another name' });
    if (options.replace !== true) {
      throw new HerdError('INVALID_SPEC', `"${options.name}" already holds a valid certificate of this CA (serial ${first.serial}, ${first.role}, until ${new Date(first.notAfter * 1000).toISOString()}); nothing issued`, {
        hint: '--replace revokes it and issues the new one; or choose another name',
      });
    }
    const serials = holders.map((h) => h.serial);
    replaced = { serials, version: reviseList(loaded, identity, ca, { serials }).version };
  }
  const key = generateKeyPair();
  const cert = issueCert(ca, { subject: options.name, role: options.role as Role, publicKey: key.publicKey, now, ttlSeconds });
  const body = parseCert(cert).body;
  // The list and the record change together with the issue: a replaced certificate is revoked before the new one exists.
  if (replaced !== null) saveConfig(loaded);
  recordIssued(loaded.path, entryOf(body, new Date()));
  if (replaced !== null) io.stderr.write(`herd: revoked ${replaced.serials.join(', ')} of ${options.name} (revocation list version ${replaced.version}); tell the hosts now with: herd host sync -H HOSTS\n`);
  const config = { identity: { ca: { publicKey: toBase64Url(identity.caKey) }, cert, key: toBase64Url(key.secretKey) } };
  if (options.out !== undefined) {
    writeFileSync(options.out, stringify(config), { mode: 0o600 });
    io.stderr.write(`herd: wrote the identity of ${options.name} (${options.role}, valid until ${new Date(body.notAfter * 1000).toISOString()}) to ${options.out}\n`);
  }
  if (options.json) {
    io.stdout.write(jsonDocument('cert-issue', { ...body, cert, key: config.identity.key, caPublicKey: config.identity.ca.publicKey, out: options.out ?? null, replaced: replaced?.serials ?? [] }));
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
  recordIssued(loaded.path, entryOf(body, new Date()));
  const info = { subject: body.subject, role: body.role, serial: body.serial, previousSerial: old.serial, notAfter: new Date(body.notAfter * 1000).toISOString(), config: loaded.path };
  if (options.json) io.stdout.write(jsonDocument('cert-renew', info));
  else io.stderr.write(`herd: renewed ${info.subject} (${info.role}) until ${info.notAfter} in ${info.config}\n`);
  return { exitCode: 0 };
}

export interface RevokeOptions extends GlobalOptions {
  /** A serial (16 hex digits) or a subject. */
  what: string;
  /** For a subject: its certificates issued before this time (default: now). */
  before?: string;
  /** A serial not in the record. */
  force?: boolean;
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
  const current = currentList(identity);
  const own = parseCert(identity.cert).body;
  let revoked: { serial: string } | { subject: string; before: string };
  let change: Parameters<typeof reviseList>[3];
  if (SERIAL.test(options.what)) {
    if (options.before !== undefined) throw new HerdError('INVALID_SPEC', '--before applies to a subject, not to a serial');
    if (current?.serials.has(options.what) === true) throw new HerdError('INVALID_SPEC', `serial ${options.what} is revoked already (list version ${current.version}); nothing changed`);
    if (options.what === own.serial) throw new HerdError('INVALID_SPEC', `serial ${options.what} is your own certificate's; nothing changed`, { hint: 'renew it first (herd cert renew), then revoke the old serial' });
    const record = readIssued(loaded.path);
    if (options.force !== true && !record.entries.some((e) => e.serial === options.what && e.ca === keyId(identity.caKey))) {
      throw new HerdError('INVALID_SPEC', `serial ${options.what} is not one this CA issued, by its record (${record.path}); nothing changed`, {
        hint: 'see the serials with herd cert list; --force revokes it anyway (a certificate issued from a copy of this config)',
      });
    }
    change = { serials: [options.what] };
    revoked = { serial: options.what };
  } else {
    if (!SUBJECT.test(options.what)) throw new HerdError('INVALID_SPEC', `"${options.what}" is neither a serial (16 hex digits) nor a subject`);
    const beforeMs = options.before === undefined ? Date.now() : Date.parse(options.before);
    if (Number.isNaN(beforeMs)) throw new HerdError('INVALID_SPEC', `--before: "${options.before}" is not a time (e.g. 2026-12-01T12:00:00Z)`);
    const before = lockBefore(beforeMs, options.before !== undefined);
    if (options.what === own.subject && issuedAt(own) < before) {
      throw new HerdError('INVALID_SPEC', `that would revoke your own certificate (${own.subject}, issued ${new Date(issuedAt(own) * 1000).toISOString()}); nothing changed`, { hint: 'renew it first (herd cert renew), then revoke with --before the renewal' });
    }
    change = { lock: { subject: options.what, before } };
    revoked = { subject: options.what, before: new Date(before * 1000).toISOString() };
  }
  const list = reviseList(loaded, identity, ca, change);
  saveConfig(loaded);
  const info = { revoked, ...list, config: loaded.path };
  if (options.json) io.stdout.write(jsonDocument('cert-revoke', info));
  else {
    const what = 'serial' in revoked ? `serial ${revoked.serial}` : `certificates of ${revoked.subject} issued before ${revoked.before}`;
    io.stderr.write(`herd: revoked ${what} (revocation list version ${list.version}); hosts learn it on their next connection from this config, or now with: herd host sync -H HOSTS\n`);
  }
  return { exitCode: 0 };
}

export interface ListOptions extends GlobalOptions {
  /** Host certificates (signed at enrolment) too. */
  all?: boolean;
}

/** One certificate of `herd cert list --json`. */
export interface ListedCert {
  serial: string;
  subject: string;
  role: string;
  ca: string;
  issued: string;
  notAfter: string | null;
  status: CertStatus;
  why: string | null;
  /** Host certificates: the name the host was dialled by. */
  dialled: string | null;
}

/** The certificates this config's CA issued, by its record, each with what it is now. */
export function listedCerts(loaded: LoadedConfig, identity: ClientIdentity, all: boolean): { certs: ListedCert[]; unreadable: number; path: string } {
  const record = readIssued(loaded.path);
  const list = currentList(identity);
  const now = Math.floor(Date.now() / 1000);
  const certs = record.entries
    .filter((e) => all || e.role !== 'host')
    .map((e): ListedCert => {
      const { status, why } = statusOf(e, list, now, keyId(identity.caKey));
      return {
        serial: e.serial,
        subject: e.subject,
        role: e.role,
        ca: e.ca,
        issued: e.time,
        notAfter: e.notAfter === 0 ? null : new Date(e.notAfter * 1000).toISOString(),
        status,
        why: why ?? null,
        dialled: e.dialled ?? null,
      };
    });
  return { certs, unreadable: record.unreadable, path: record.path };
}

export function certList(options: ListOptions, io: Io): CommandResult {
  const loaded = loadConfig(options.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  const { certs, unreadable, path } = listedCerts(loaded, identity, options.all === true);
  if (unreadable > 0) io.stderr.write(`herd: ${unreadable} line${unreadable === 1 ? '' : 's'} of ${path} could not be read and are not shown\n`);
  if (options.json) {
    io.stdout.write(jsonDocument('cert-list', { record: path, certs }));
    return { exitCode: 0 };
  }
  if (certs.length === 0) {
    io.stderr.write(`herd: no certificates on record in ${path}${identity.caSecretKey === undefined ? ' (this config holds no CA: the admin who issues certificates keeps the record)' : ''}\n`);
    return { exitCode: 0 };
  }
  const rows = certs.map((c) => [c.serial || '-', c.subject, c.role, c.ca, c.notAfter?.slice(0, 16).replace('T', ' ') ?? '-', c.status]);
  io.stdout.write(formatTable(['SERIAL', 'SUBJECT', 'ROLE', 'CA', 'EXPIRES', 'STATUS'], rows));
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
  if (options.json) io.stdout.write(jsonDocument('cert-show', info));
  else {
    io.stdout.write(
      `subject   ${info.subject}\nrole      ${info.role}\nvalid     ${info.notBefore} .. ${info.notAfter}\nCA        ${info.ca}${info.holdsCa ? ' (this config holds the CA key)' : ''}\nconfig    ${info.config}\n`,
    );
  }
  return { exitCode: 0 };
}

export const certModule = {
  command: 'cert',
  describe: 'certificates: issue, renew, revoke, list, show',
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
          .option('replace', { type: 'boolean', default: false, describe: 'NAME holds a valid certificate already: revoke it and issue the new one' })
          .example('$0 cert issue alice --role user --ttl 30d --out alice.yml', 'a config file to hand to alice')
          .example('$0 cert issue alice --replace --out alice.yml && $0 host sync -H @all', 'alice lost her key: a new one, the old revoked everywhere'),
      handler: (a, io) =>
        certIssue({ ...globalOptions(a), name: String(a.name), role: String(a.role), ttl: String(a.ttl), replace: a.replace === true, ...(typeof a.out === 'string' ? { out: a.out } : {}) }, io),
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
          .option('force', { type: 'boolean', default: false, describe: 'revoke a serial that is not in this CA\'s record (herd cert list)' })
          .example('$0 cert revoke alice', 'every certificate of alice issued until now')
          .example('$0 cert revoke 3f2a9c0d11e84b76 && $0 host sync -H @all', 'one certificate, told to every host at once'),
      handler: (a, io) => certRevoke({ ...globalOptions(a), what: String(a.what), force: a.force === true, ...(typeof a.before === 'string' ? { before: a.before } : {}) }, io),
    },
    {
      command: 'list',
      describe: 'the certificates this config\'s CA issued: serial, subject, role, expiry, revoked',
      builder: (y) =>
        y
          .option('all', { type: 'boolean', default: false, describe: 'host certificates (signed at enrolment) too' })
          .example('$0 cert list', 'who holds a certificate, and which are valid')
          .example('$0 cert list --json | jq -r \'.certs[] | select(.status == "valid") | .serial\'', 'the serials still valid'),
      handler: (a, io) => certList({ ...globalOptions(a), all: a.all === true }, io),
    },
    {
      command: 'show',
      describe: 'show the identity in your config: subject, role, validity, CA',
      builder: (y) => y,
      handler: (a, io) => certShow(globalOptions(a), io),
    },
  ] satisfies CommandModule[],
};
