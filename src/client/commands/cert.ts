import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId, keyPairFromSecret, parseCert } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
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

/** Issues a certificate and key for someone else, as a ready-to-use herd config. */
export function certIssue(options: IssueOptions, io: Io): CommandResult {
  if (!SUBJECT.test(options.name)) throw new HerdError('INVALID_SPEC', `NAME: "${options.name}" must be 1-128 characters of letters, digits and . _ @ -`);
  if (!(ROLES as readonly string[]).includes(options.role)) throw new HerdError('INVALID_SPEC', `--role: "${options.role}" is not one of ${ROLES.join(', ')}`);
  const ttlSeconds = checkTtl(parseDuration(options.ttl, '--ttl'), options.ttl);
  const loaded = loadConfig(options.config);
  const identity = ensureIdentity(loaded, (line) => io.stderr.write(`${line}\n`));
  if (identity.caSecretKey === undefined) {
    throw new HerdError('PERMISSION_DENIED', `${loaded.path} holds no CA secret key, so it cannot issue certificates`, { hint: 'run this on the admin config that created the CA' });
  }
  const key = generateKeyPair();
  const cert = issueCert(
    { publicKey: identity.caKey, secretKey: identity.caSecretKey },
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
  if (identity.caSecretKey === undefined) {
    const { subject, role } = parseCert(identity.cert).body;
    throw new HerdError('PERMISSION_DENIED', `${loaded.path} holds no CA secret key, so it cannot renew its own certificate`, {
      hint: `ask an admin for a new one: herd cert issue ${subject} --role ${role}`,
    });
  }
  const old = parseCert(identity.cert).body;
  const cert = issueCert(
    { publicKey: identity.caKey, secretKey: identity.caSecretKey },
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
  describe: 'certificates: issue, renew, show',
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
      command: 'show',
      describe: 'show the identity in your config: subject, role, validity, CA',
      builder: (y) => y,
      handler: (a, io) => certShow(globalOptions(a), io),
    },
  ] satisfies CommandModule[],
};
