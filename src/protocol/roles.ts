export const ROLES = ['admin', 'user', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** What each role may ask a host to do. Checked by the host on every request. */
export const PERMISSIONS = {
  run: ['admin', 'user'],
  signal: ['admin', 'user'],
  /** Stop, delete or prune jobs someone else started (everyone may do so with their own). */
  'manage-any-job': ['admin'],
  status: ['admin', 'user', 'viewer'],
  'network-list': ['admin', 'user', 'viewer'],
  'network-manage': ['admin'],
  enroll: ['admin'],
  /** Stop trusting a CA (herd host trust --remove); the host also requires its state's owner. */
  'trust-manage': ['admin'],
  /** Read the host's audit log (herd audit); nobody writes it through herd. */
  'audit-read': ['admin', 'user', 'viewer'],
  /** Run a job outside the sandbox: --network host today (the host's own network namespace). */
  'leave-sandbox': ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Action = keyof typeof PERMISSIONS;

export function allows(role: Role, action: Action): boolean {
  return (PERMISSIONS[action] as readonly Role[]).includes(role);
}
