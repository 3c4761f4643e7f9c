import { spawnSync } from 'node:child_process';
import type { SshSettings } from '../../../src/client/hosts/sshConfig.ts';

/** `ssh -G -F FILE HOST`'s answer in the shape of SshSettings, or null where ssh refuses the file. */
export function sshG(file: string, host: string, env?: NodeJS.ProcessEnv): SshSettings | null {
  const r = spawnSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...(env === undefined ? {} : { env }) });
  if (r.status !== 0) return null;
  const values = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) values.set(line.slice(0, space), [...(values.get(line.slice(0, space)) ?? []), line.slice(space + 1)]);
  }
  const one = (key: string): string => values.get(key)?.[0] ?? '';
  const strict = one('stricthostkeychecking');
  const time = (key: string): number | null => (one(key) === 'none' ? null : Number(one(key)) * 1000);
  return {
    hostname: one('hostname'),
    user: one('user'),
    port: Number(one('port')),
    identityFiles: values.get('identityfile') ?? [],
    identitiesOnly: one('identitiesonly') === 'yes',
    proxyJump: values.has('proxyjump') ? one('proxyjump').split(',') : [],
    connectTimeoutMs: time('connecttimeout'),
    serverAliveIntervalMs: time('serveraliveinterval') ?? 0,
    strictHostKeyChecking: strict === 'true' ? 'yes' : strict === 'false' ? 'no' : (strict as SshSettings['strictHostKeyChecking']),
    userKnownHostsFiles: one('userknownhostsfile').split(' '),
  };
}
