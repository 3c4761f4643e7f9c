import { parseAuditLine, verifyChain, type AuditFile, type AuditLine, type AuditVerdict } from '../../shared/auditChain.ts';
import { HerdError } from '../../protocol/errors.ts';
import { readAudit } from '../audit/readAudit.ts';
import { eachHost } from '../connection/hostRequests.ts';
import { EXIT_HERD_ERROR } from '../output/outcome.ts';
import { errorLine } from '../output/render.ts';
import { formatTable } from '../output/table.ts';
import { auditAnchor, rememberAuditAnchor } from '../state/auditAnchors.ts';
import { parseDuration } from '../units/durations.ts';
import { commandContext } from './context.ts';
import { globalOptions, type Args, type CommandModule, type CommandResult } from './types.ts';

/** `herd audit verify` found a log that does not hold together. */
export const EXIT_AUDIT_BROKEN = 1;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T/;

/** --since: a duration back from now (1h, 7d) or a time (2026-12-01T00:00:00Z). */
export function sinceMs(text: string, now: number = Date.now()): number {
  if (RFC3339.test(text.trim())) {
    const at = Date.parse(text.trim());
    if (Number.isNaN(at)) throw new HerdError('INVALID_SPEC', `--since: "${text}" is not a time (examples: 1h, 7d, 2026-12-01T00:00:00Z)`);
    return at;
  }
  return Math.max(0, now - parseDuration(text, '--since'));
}

function contextOf(argv: Args, io: { stderr: NodeJS.WritableStream }) {
  return commandContext({ ...globalOptions(argv), acceptNew: argv.acceptNew === true }, (line) => io.stderr.write(`${line}\n`));
}

function outcomeText(line: AuditLine): string {
  return line.code === undefined ? line.outcome : `${line.outcome} ${line.code}`;
}

const show: CommandModule = {
  command: '$0',
  describe: 'read the hosts\' audit logs: every handshake, request and trust change, refusals too',
  builder: (y) =>
    y
      .option('since', { type: 'string', describe: 'only lines from this long ago (1h, 7d) or since this time (RFC 3339), by the host\'s clock' })
      .option('subject', { type: 'string', describe: 'only lines of this certificate subject' })
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 audit -H web1 --since 1h', 'what happened on web1 in the last hour')
      .example('$0 audit -H @all --subject alice --json', 'everything alice did, as JSON lines per host')
      .example('$0 audit verify -H @all', 'check that no host\'s log was edited, cut or reordered'),
  handler: async (argv, io): Promise<CommandResult> => {
    const options = globalOptions(argv);
    const since = typeof argv.since === 'string' ? sinceMs(argv.since) : undefined;
    const subject = typeof argv.subject === 'string' ? argv.subject : undefined;
    const context = contextOf(argv, io);
    const answers = await eachHost(context, async (connection) => {
      const reply = await readAudit(connection, { t: 'audit-read', ...(since === undefined ? {} : { sinceMs: since }), ...(subject === undefined ? {} : { subject }) });
      const lines = reply.bytes
        .toString('utf8')
        .split('\n')
        .map(parseAuditLine)
        .filter((l): l is AuditLine => l !== null);
      return { hostId: reply.end.hostId, lines };
    });
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ hosts: answers.map((a) => ({ host: a.host, hostId: a.value?.hostId ?? null, lines: a.value?.lines ?? null, error: a.error?.toJSON() ?? null })) }, null, 2)}\n`);
    } else {
      const rows: string[][] = [];
      for (const answer of answers) {
        if (answer.error !== null) {
          io.stderr.write(`${errorLine(answer.error)}\n`);
          continue;
        }
        for (const line of answer.value!.lines) {
          rows.push([line.time.slice(0, 19).replace('T', ' '), answer.host, String(line.seq), line.subject ?? '-', line.role ?? '-', line.action, line.target ?? '-', outcomeText(line), line.from ?? line.login ?? '-']);
        }
      }
      if (rows.length > 0) io.stdout.write(formatTable(['TIME (UTC)', 'HOST', 'SEQ', 'SUBJECT', 'ROLE', 'ACTION', 'TARGET', 'OUTCOME', 'FROM'], rows));
      else if (answers.some((a) => a.error === null)) io.stderr.write('herd: no audit lines match\n');
    }
    return { exitCode: answers.some((a) => a.error !== null) ? EXIT_HERD_ERROR : 0 };
  },
};

/** What `herd audit verify` found on one host. */
export interface VerifyOutcome extends AuditVerdict {
  hostId: string;
  /** The host's files, oldest first, with their sizes as read. */
  files: Array<{ name: string; bytes: number }>;
  /** Whether an earlier verify's last line was checked against (none the first time). */
  anchored: boolean;
}

const verify: CommandModule = {
  command: 'verify',
  describe: 'check each host\'s audit log holds together: no line edited, removed or reordered',
  builder: (y) =>
    y
      .option('accept-new', { type: 'boolean', default: false, describe: 'record the host key of hosts not yet in known_hosts' })
      .example('$0 audit verify -H @all', 'every host\'s chain, and the line each showed the last verify')
      .epilog(
        'Each line carries the hash of the one before it, across rotated files. Verify also checks the last line the host\'s agent remembers writing, and the last line this machine saw in an earlier verify (~/.cache/herd/audit-anchors.json): a log cut short or rewritten since fails there. Exit status 1 when a log fails. See docs/identity.md for what this does not cover.',
      ),
  handler: async (argv, io): Promise<CommandResult> => {
    const options = globalOptions(argv);
    const context = contextOf(argv, io);
    const answers = await eachHost(context, async (connection): Promise<VerifyOutcome> => {
      const { bytes, end } = await readAudit(connection, { t: 'audit-read', all: true });
      const files: AuditFile[] = [];
      let at = 0;
      for (const file of end.files) {
        files.push({ name: file.name, text: bytes.subarray(at, at + file.bytes).toString('utf8') });
        at += file.bytes;
      }
      if (at !== bytes.length) throw new HerdError('PROTOCOL', `the host sent ${bytes.length} bytes of audit log for files of ${at}`);
      const anchor = auditAnchor(end.hostId);
      const verdict = verifyChain(files, { head: end.head, anchor });
      if (verdict.ok && verdict.head !== null) rememberAuditAnchor(end.hostId, verdict.head);
      return { ...verdict, hostId: end.hostId, files: end.files.map((f) => ({ name: f.name, bytes: f.bytes })), anchored: anchor !== null };
    });
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ hosts: answers.map((a) => ({ host: a.host, ...(a.value ?? {}), error: a.error?.toJSON() ?? null })) }, null, 2)}\n`);
    } else {
      for (const answer of answers) {
        if (answer.error !== null) {
          io.stderr.write(`${errorLine(answer.error)}\n`);
          continue;
        }
        const v = answer.value!;
        const span = v.head === null ? 'empty' : `lines ${v.firstSeq}–${v.head.seq} in ${v.files.length} file${v.files.length === 1 ? '' : 's'}${v.firstSeq !== 1 ? ' (older ones rotated away)' : ''}`;
        if (v.ok) io.stdout.write(`${answer.host}: ok, ${span}${v.anchored ? '' : ', first verify from this machine'}\n`);
        else {
          io.stdout.write(`${answer.host}: BROKEN, ${span}\n`);
          for (const p of v.problems) io.stdout.write(`  ${p.file === '-' ? '' : `${p.file}:${p.line}: `}${p.what}\n`);
        }
      }
    }
    if (answers.some((a) => a.value !== null && !a.value.ok)) return { exitCode: EXIT_AUDIT_BROKEN };
    return { exitCode: answers.some((a) => a.error !== null) ? EXIT_HERD_ERROR : 0 };
  },
};

export const auditModule = {
  command: 'audit',
  describe: 'the hosts\' audit logs: read them, verify them',
  subcommands: [verify, show] satisfies CommandModule[],
};
