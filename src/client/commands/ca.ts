import { stringify } from 'yaml';
import { jsonDocument } from '../output/jsonDocument.ts';
import { fromBase64Url } from '../../protocol/bytes.ts';
import { keyId, parseCert } from '../../protocol/cert.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { ClientIdentity } from '../../protocol/handshake.ts';
import { beginRotation, endRotation, markSwitched, readPendingRotation, retiredPath, writeSecret, type PendingRotation } from '../config/caRotation.ts';
import { clientIdentity, saveConfig, type IdentityConfig, type LoadedConfig } from '../config/config.ts';
import { entryOf, recordIssued } from '../config/issuedRecord.ts';
import { checkTtl } from '../config/lifetimes.ts';
import { eachHost, type HostAnswer } from '../connection/hostRequests.ts';
import { EXIT_HERD_ERROR } from '../output/outcome.ts';
import { errorLine } from '../output/render.ts';
import { formatTable } from '../output/table.ts';
import { parseDuration } from '../units/durations.ts';
import { listedCerts } from './cert.ts';
import { commandContext, targetsOf, type CommandContext } from './context.ts';
import { globalOptions, type Args, type CommandModule, type CommandResult, type Io } from './types.ts';

/** What the rotation did on one host. */
export interface RotationStep {
  host: string;
  /** added: the new CA is trusted now; kept: it was already (a rotation taken up again). */
  added: 'added' | 'kept' | null;
  /** removed: the old CA is no longer trusted; kept: --keep-old; null: not reached in that phase. */
  old: 'removed' | 'kept' | null;
  error: HerdError | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The hosts to rotate: -H, else every host the old CA enrolled (from the config's record), else this machine. */
function rotationTargets(argv: Args, context: CommandContext, oldCa: string): CommandContext['targets'] {
  const options = globalOptions(argv);
  if (options.hosts !== undefined) return context.targets;
  const enrolled = listedCerts(context.loaded, context.connect.identity, true).certs.filter((c) => c.role === 'host' && c.ca === oldCa && c.status !== 'revoked' && c.dialled !== null);
  const names = [...new Set(enrolled.map((c) => c.dialled!))];
  if (names.length === 0) return context.targets;
  return targetsOf({ ...options, hosts: names.join(',') }, context.loaded);
}

function addedOn(answers: Array<HostAnswer<'added' | 'kept'>>, steps: Map<string, RotationStep>): void {
  for (const a of answers) steps.set(a.host, { host: a.host, added: a.value, old: null, error: a.error });
}

/** The config's identity switched to the new CA; the old one written beside it (its list included). */
function switchConfig(loaded: LoadedConfig, pending: PendingRotation): string {
  const old = loaded.config.identity!;
  const kept = retiredPath(loaded.path, pending.from);
  writeSecret(kept, stringify({ identity: old }));
  const next: IdentityConfig = pending.next;
  loaded.document.setIn(['identity'], next);
  loaded.config.identity = next;
  saveConfig(loaded);
  recordIssued(loaded.path, entryOf(parseCert(next.cert).body, new Date()));
  // Until the old CA is off every host, a rotation cut short here is taken up at the removal.
  markSwitched(loaded.path, pending);
  return kept;
}

/**
 * `herd ca rotate`: a new CA, the caller's certificate again under it, the new CA trusted by every
 * host while the old one still is, the config switched, then (after a grace for runs that read the
 * old config) the old CA removed from every host. Nothing is switched until every host trusts the
 * new CA; the rotation is taken up again where it stopped.
 */
export async function caRotate(argv: Args, io: Io): Promise<CommandResult> {
  const options = globalOptions(argv);
  const keepOld = argv.keepOld === true;
  const graceMs = parseDuration(typeof argv.grace === 'string' ? argv.grace : '5s', '--grace');
  const ttlSeconds = checkTtl(parseDuration(typeof argv.ttl === 'string' ? argv.ttl : '90d', '--ttl'), String(argv.ttl ?? '90d'));
  const say = (line: string): void => void (options.json || io.stderr.write(`${line}\n`));
  const context = commandContext({ ...options, acceptNew: argv.acceptNew === true }, (line) => io.stderr.write(`${line}\n`));
  const { loaded } = context;
  const current = context.connect.identity;
  if (current.caSecretKey === undefined) {
    throw new HerdError('PERMISSION_DENIED', `${loaded.path} holds no CA secret key, so it cannot rotate the CA`, { hint: 'run this on the admin config that created the CA' });
  }
  let pending = readPendingRotation(loaded.path);
  const resuming = pending?.phase === 'switched';
  if (pending !== null && resuming && keyId(fromBase64Url(pending.next.ca.publicKey)) !== keyId(current.caKey)) {
    throw new HerdError('CONFIG', `a rotation to CA ${keyId(fromBase64Url(pending.next.ca.publicKey))} was switched to beside ${loaded.path}, but its CA is ${keyId(current.caKey)}; nothing changed`, { hint: `remove ${loaded.path}.rotating to start over` });
  }
  const oldCa = resuming ? pending!.from : keyId(current.caKey);
  if (pending !== null && pending.from !== oldCa) {
    throw new HerdError('CONFIG', `a rotation from CA ${pending.from} was begun beside ${loaded.path}, but its CA is ${oldCa}; nothing changed`, { hint: `remove ${loaded.path}.rotating to start over` });
  }
  if (pending === null) pending = beginRotation(loaded.path, loaded.config.identity!, ttlSeconds, Math.floor(Date.now() / 1000));
  else say(resuming ? `herd: taking up the rotation begun at ${pending.startedAt}: the config uses the new CA, the old one is still to be removed` : `herd: taking up the rotation begun at ${pending.startedAt}`);
  const next: ClientIdentity = clientIdentity(pending.next, loaded.path);
  const newCa = keyId(next.caKey);
  const targets = rotationTargets(argv, context, oldCa);
  const steps = new Map<string, RotationStep>();
  const withNew = { ...context, targets, connect: { ...context.connect, identity: next, addCa: true } };

  let missed: RotationStep[] = [];
  let retired: string | null = resuming ? retiredPath(loaded.path, oldCa) : null;
  if (resuming) {
    for (const target of targets) steps.set(target.name, { host: target.name, added: 'kept', old: null, error: null });
  } else {
    say(`herd: CA ${oldCa} → ${newCa}: adding the new CA on ${targets.length} host${targets.length === 1 ? '' : 's'}`);
    addedOn(
      await eachHost(withNew, async (connection) => {
        await connection.request({ t: 'trust-list' });
        return connection.enrolledNow ? 'added' : 'kept';
      }),
      steps,
    );
    missed = [...steps.values()].filter((s) => s.error !== null);
    if (missed.length === 0) {
      retired = switchConfig(loaded, pending);
      say(`herd: ${loaded.path} now uses CA ${newCa}; the old identity is kept in ${retired}`);
      // Runs that read the old config just before the switch are still in their handshake.
      if (!keepOld && graceMs > 0) {
        say(`herd: waiting ${Math.round(graceMs / 1000)}s for runs begun with the old config`);
        await sleep(graceMs);
      }
    }
  }
  if (missed.length === 0) {
    if (!keepOld) {
      const removing = { ...withNew, connect: { ...context.connect, identity: next } };
      const removed = await eachHost(removing, async (connection) => {
        await connection.request({ t: 'trust-remove', ca: oldCa });
        return 'removed' as const;
      });
      for (const r of removed) {
        const step = steps.get(r.host)!;
        step.old = r.value;
        step.error = r.error;
      }
    } else {
      for (const step of steps.values()) step.old = 'kept';
    }
    if ([...steps.values()].every((s) => s.error === null)) endRotation(loaded.path);
  }
  const rows = [...steps.values()];
  const ownSerial = parseCert(current.cert).body.serial;
  const stranded = listedCerts(loaded, current, false).certs.filter((c) => c.ca === oldCa && (c.status === 'valid' || c.status === 'old-ca') && c.serial !== ownSerial);
  if (options.json) {
    io.stdout.write(
      jsonDocument('ca-rotate', {
          from: oldCa,
          to: newCa,
          switched: retired !== null,
          config: loaded.path,
          oldIdentity: retired,
          hosts: rows.map((s) => ({ host: s.host, added: s.added, old: s.old, error: s.error?.toJSON() ?? null })),
          oldCertificates: stranded.map((c) => ({ serial: c.serial, subject: c.subject, role: c.role })),
      }),
    );
  } else {
    for (const s of rows) if (s.error !== null) io.stderr.write(`${errorLine(s.error)}\n`);
    io.stdout.write(formatTable(['HOST', `NEW CA ${newCa}`, `OLD CA ${oldCa}`], rows.map((s) => [s.host, s.added ?? 'not reached', s.old ?? (s.added === null ? '-' : 'still trusted')])));
  }
  if (missed.length > 0) {
    const names = missed.map((s) => s.host).join(',');
    say(`herd: ${missed.length} host${missed.length === 1 ? ' was' : 's were'} not reached (${names}); nothing switched: your config still uses CA ${oldCa}. Run herd ca rotate again when they are back (it goes on with CA ${newCa}), or leave them out with -x ${names}`);
    return { exitCode: EXIT_HERD_ERROR };
  }
  const failedRemoval = rows.filter((s) => s.error !== null);
  if (failedRemoval.length > 0) say(`herd: CA ${oldCa} is still trusted where it could not be removed (${failedRemoval.map((s) => s.host).join(',')}): run herd ca rotate again to remove it there`);
  if (stranded.length > 0) {
    const list = stranded.map((c) => `${c.subject} (${c.role})`).join(', ');
    say(keepOld
      ? `herd: certificates of CA ${oldCa} still work while hosts trust it: ${list}. Issue new ones (herd cert issue NAME --role ROLE), then herd host trust --remove ${oldCa} -H HOSTS`
      : `herd: these certificates of CA ${oldCa} are refused from now on: ${list}. Issue new ones: herd cert issue NAME --role ROLE --out NAME.yml`);
  }
  return { exitCode: failedRemoval.length > 0 ? EXIT_HERD_ERROR : 0 };
}

const rotate: CommandModule = {
  command: 'rotate',
  describe: 'replace this config\'s CA: a new CA and certificate, trusted by every host before the old CA is removed',
  builder: (y) =>
    y
      .option('keep-old', { type: 'boolean', default: false, describe: 'leave the old CA trusted (retire it later with herd host trust --remove)' })
      .option('grace', { type: 'string', default: '5s', describe: 'wait this long after switching the config before removing the old CA (runs begun with the old config finish their handshake)' })
      .option('ttl', { type: 'string', default: '90d', describe: 'lifetime of your new certificate (at most 90d)' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 ca rotate', 'every host the CA enrolled (herd host list): new CA added, config switched, old CA removed')
      .example('$0 ca rotate -H @all --keep-old', 'stage it: both CAs trusted until users have new certificates')
      .example('$0 ca rotate -x web7', 'web7 is down: rotate the rest (web7 then needs herd host trust as its state\'s owner)')
      .epilog(
        'Each host must be reached by an SSH login that owns its herd state (as herd host trust). Nothing is switched until every host trusts the new CA; run it again to go on where it stopped. Certificates the old CA issued stop working when it is removed: the command lists them. The old identity is kept beside the config (config.yml.ca-KEYID.yml). See docs/identity.md.',
      ),
  handler: caRotate,
};

export const caModule = { command: 'ca', describe: 'the certificate authority of this config: rotate it', subcommands: [rotate] };
