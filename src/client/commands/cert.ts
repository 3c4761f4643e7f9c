import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { toBase64Url } from '../../protocol/bytes.ts';
import { generateKeyPair, issueCert, keyId, parseCert } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import { ROLES, type Role } from '../../protocol/messages.ts';
import { loadConfig } from '../config/config.ts';
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
  const ttlSeconds = Math.floor(parseDuration(options.ttl, '--ttl') / 1000);
  if (ttlSeconds < 60) throw new HerdError('INVALID_SPEC', `--ttl: "${options.ttl}" is shorter than a minute`);
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
  describe: 'certificates: issue, show',
  subcommands: [
    {
      command: 'issue <name>',
      describe: 'issue a certificate and key for NAME from the CA in your config',
      builder: (y) =>
        y
          .positional('name', { type: 'string', describe: 'subject of the certificate, e.g. alice or ci-bot', demandOption: true })
          .option('role', { type: 'string', choices: ['admin', 'user', 'viewer'], default: 'user', describe: 'what the holder may do' })
          .option('ttl', { type: 'string', default: '90d', describe: 'validity, e.g. 12h, 30d, 1y' })
          .option('out', { type: 'string', describe: 'write a ready-to-use config file (mode 0600) instead of printing it' })
          .example('$0 cert issue alice --role user --ttl 30d --out alice.yml', 'a config file to hand to alice'),
      handler: (a, io) =>
        certIssue({ ...globalOptions(a), name: String(a.name), role: String(a.role), ttl: String(a.ttl), ...(typeof a.out === 'string' ? { out: a.out } : {}) }, io),
    },
    {
      command: 'show',
      describe: 'show the identity in your config: subject, role, validity, CA',
      builder: (y) => y,
      handler: (a, io) => certShow(globalOptions(a), io),
    },
  ] satisfies CommandModule[],
};
