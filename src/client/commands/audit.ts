import { parseAuditLine, type AuditLine, type AuditVerdict } from '../../shared/auditChain.ts';
import { jsonDocument } from '../output/jsonDocument.ts';
import { HerdError } from '../../protocol/errors.ts';
import type { AuditRead } from '../../protocol/messages.ts';
import { LineSplitter } from '../audit/auditLines.ts';
import { readAudit } from '../audit/readAudit.ts';
import { MAX_READ_LINE_BYTES, VerifyingReader } from '../audit/verifyingReader.ts';
import { eachHost } from '../connection/hostRequests.ts';
import { EXIT_HERD_ERROR } from '../output/outcome.ts';
import { errorLine } from '../output/render.ts';
import { escapeControl } from '../output/safeText.ts';
import { formatTable } from '../output/table.ts';
import { auditAnchor, rememberAuditAnchor } from '../state/auditAnchors.ts';
import { parseDuration } from '../units/durations.ts';
import { commandContext } from './context.ts';
import { globalOptions, type Args, type CommandModule, type CommandResult } from './types.ts';

/** What `herd audit` holds of one host to show: far more than a screen, far less than would hurt. */
export const MAX_SHOWN_LINES = 100_000;
const MAX_SHOWN_BYTES = 64 * 1024 * 1024;

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
      const lines: AuditLine[] = [];
      const splitter = new LineSplitter(
        {
          line: (text) => {
            const line = parseAuditLine(text);
            if (line === null) throw new HerdError('PROTOCOL', `the host sent something that is not an audit line after line ${lines.length}`, { hint: 'herd audit verify -H HOST says what is wrong with its log' });
            if (lines.length >= MAX_SHOWN_LINES) throw new HerdError('LIMIT', `over ${MAX_SHOWN_LINES} audit lines match`, { hint: 'narrow it with --since or --subject' });
            lines.push(line);
          },
          tooLong: () => {
            throw new HerdError('PROTOCOL', `the host sent a line over ${MAX_READ_LINE_BYTES} bytes after line ${lines.length}; no agent writes one`, { hint: 'herd audit verify -H HOST says what is wrong with its log' });
          },
        },
        MAX_READ_LINE_BYTES,
      );
      const request: AuditRead = { t: 'audit-read', ...(since === undefined ? {} : { sinceMs: since }), ...(subject === undefined ? {} : { subject }) };
      await readAudit(connection, request, { bytes: (bytes) => (splitter.push(bytes), 'more') }, MAX_SHOWN_BYTES);
      if (splitter.end()) throw new HerdError('PROTOCOL', 'the host\'s audit lines end in a torn line');
      return { hostId: connection.hostKeyId(), lines };
    });
    if (options.json) {
      io.stdout.write(jsonDocument('audit', { hosts: answers.map((a) => ({ host: a.host, hostId: a.value?.hostId ?? null, lines: a.value?.lines ?? null, error: a.error?.toJSON() ?? null })) }));
    } else {
      const rows: string[][] = [];
      for (const answer of answers) {
        if (answer.error !== null) {
          io.stderr.write(`${errorLine(answer.error)}\n`);
          continue;
        }
        for (const line of answer.value!.lines) {
          // Every cell is the host's word: a subject or target could carry terminal escapes.
          const cells = [line.time.slice(0, 19).replace('T', ' '), answer.host, String(line.seq), line.subject ?? '-', line.role ?? '-', line.action, line.target ?? '-', outcomeText(line), line.from ?? line.login ?? '-'];
          rows.push(cells.map((cell) => escapeControl(String(cell))));
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
  /** The read stopped at the most problems a verdict lists: the files after them were not read. */
  stoppedEarly: boolean;
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
      // Remembered by the key the host proved it holds, not by the id it names: a host cannot
      // point our memory of another host's log at its own.
      const hostKey = connection.hostKeyId();
      const anchor = auditAnchor(hostKey);
      const reader = new VerifyingReader(anchor);
      const end = await readAudit(connection, { t: 'audit-read', all: true }, { files: (files, head) => reader.expect(files, head), bytes: (bytes) => reader.push(bytes) });
      const outcome = { hostId: hostKey, files: reader.list(), anchored: anchor !== null };
      // Stopped at the most problems a verdict lists: the rest of the log would add nothing.
      if (end === null) return { ...reader.stopped(), ...outcome, stoppedEarly: true };
      const verdict = reader.finish(end);
      if (verdict.ok && verdict.head !== null) rememberAuditAnchor(hostKey, verdict.head);
      return { ...verdict, ...outcome, stoppedEarly: false };
    });
    if (options.json) {
      io.stdout.write(jsonDocument('audit-verify', { hosts: answers.map((a) => ({ host: a.host, ...(a.value ?? {}), error: a.error?.toJSON() ?? null })) }));
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
          for (const p of v.problems) io.stdout.write(`  ${p.file === '-' ? '' : `${escapeControl(p.file)}:${p.line}: `}${p.what}\n`);
          if (v.stoppedEarly) io.stdout.write(`  (stopped reading at ${v.problems.length} problems: the rest of the log was not checked)\n`);
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
