/*
 * The seccomp filter every job runs under, as classic BPF (struct sock_filter, 8 bytes each:
 * u16 code, u8 jt, u8 jf, u32 k, little-endian). It follows Docker's default profile in what it
 * refuses, the other way round: everything is allowed but a list of syscalls that reach the
 * kernel's most sensitive parts (modules, kexec, keyrings, bpf, perf, io_uring, mounts, new
 * namespaces, time, swap, reboot), which fail with EPERM. clone3 fails with ENOSYS, so libc falls
 * back to clone, whose flags the filter can read. A call from another ABI (x32, i386) is killed.
 */

/** The seccomp_data offsets (struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]). */
const NR = 0;
const ARCH = 4;
const ARG0_LOW = 16;

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

const SECCOMP_RET_KILL_PROCESS = 0x8000_0000;
const SECCOMP_RET_ERRNO = 0x0005_0000;
const SECCOMP_RET_ALLOW = 0x7fff_0000;
const EPERM = 1;
const ENOSYS = 38;

export const AUDIT_ARCH_X86_64 = 0xc000_003e;
/** x32 syscalls are the x86_64 numbers with this bit set. */
const X32_SYSCALL_BIT = 0x4000_0000;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

/** Refused with EPERM, x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const DENIED_X86_64: Readonly<Record<string, number>> = {
  sysfs: 139, uselib: 134, ustat: 136, vhangup: 153, pivot_root: 155, _sysctl: 156, acct: 163, settimeofday: 164,
  mount: 165, umount2: 166, swapon: 167, swapoff: 168, reboot: 169, sethostname: 170, setdomainname: 171, iopl: 172,
  ioperm: 173, create_module: 174, init_module: 175, delete_module: 176, get_kernel_syms: 177, query_module: 178,
  quotactl: 179, nfsservctl: 180, syslog: 103, lookup_dcookie: 212, clock_settime: 227, kexec_load: 246, add_key: 248,
  request_key: 249, keyctl: 250, unshare: 272, perf_event_open: 298, name_to_handle_at: 303, open_by_handle_at: 304,
  clock_adjtime: 305, setns: 308, kcmp: 312, finit_module: 313, kexec_file_load: 320, bpf: 321, userfaultfd: 323,
  io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427, open_tree: 428, move_mount: 429, fsopen: 430,
  fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
};
const CLONE_X86_64 = 56;
const CLONE3_X86_64 = 435;

export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const stmt = (code: number, k: number): SockFilter => ({ code, jt: 0, jf: 0, k });
const jump = (code: number, k: number, jt: number, jf: number): SockFilter => ({ code, jt, jf, k });

/** The filter for x86_64, as instructions. */
export function jobFilter(): SockFilter[] {
  const denied = Object.values(DENIED_X86_64);
  // Layout: [arch check] [nr load] [x32] [clone3] [clone] [denied...] allow, [clone flags], errno, enosys, kill.
  const program: SockFilter[] = [];
  const tail = { allow: 0, cloneFlags: 0, eperm: 0, enosys: 0, kill: 0 };
  // Jump offsets are relative to the next instruction; filled in once the layout is known.
  const fixups: Array<{ at: number; target: keyof typeof tail; field: 'jt' | 'jf' }> = [];
  const to = (target: keyof typeof tail, field: 'jt' | 'jf'): number => {
    fixups.push({ at: program.length, target, field });
    return 0;
  };
  program.push(stmt(BPF_LD_W_ABS, ARCH));
  program.push(jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 0, to('kill', 'jf')));
  program.push(stmt(BPF_LD_W_ABS, NR));
  program.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, to('kill', 'jt'), 0));
  program.push(jump(BPF_JEQ_K, CLONE3_X86_64, to('enosys', 'jt'), 0));
  program.push(jump(BPF_JEQ_K, CLONE_X86_64, to('cloneFlags', 'jt'), 0));
  for (const nr of denied) program.push(jump(BPF_JEQ_K, nr, to('eperm', 'jt'), 0));
  tail.allow = program.length;
  program.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
  tail.cloneFlags = program.length;
  program.push(stmt(BPF_LD_W_ABS, ARG0_LOW));
  program.push(jump(BPF_JSET_K, CLONE_NAMESPACE_FLAGS, 0, 1));
  program.push(stmt(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM));
  program.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
  tail.eperm = program.length;
  program.push(stmt(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM));
  tail.enosys = program.length;
  program.push(stmt(BPF_RET_K, SECCOMP_RET_ERRNO | ENOSYS));
  tail.kill = program.length;
  program.push(stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS));
  for (const { at, target, field } of fixups) {
    const offset = tail[target] - (at + 1);
    if (offset < 0 || offset > 255) throw new Error(`seccomp filter: jump from ${at} to ${target} out of range`);
    program[at]![field] = offset;
  }
  return program;
}

export function encodeFilter(program: readonly SockFilter[]): Uint8Array {
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach((insn, i) => {
    view.setUint16(i * 8, insn.code, true);
    view.setUint8(i * 8 + 2, insn.jt);
    view.setUint8(i * 8 + 3, insn.jf);
    view.setUint32(i * 8 + 4, insn.k, true);
  });
  return bytes;
}

/** What the kernel would decide for one call: a tiny interpreter of the instructions above, for tests. */
export function verdict(program: readonly SockFilter[], data: { nr: number; arch: number; arg0?: number }): 'allow' | 'eperm' | 'enosys' | 'kill' {
  let acc = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const insn = program[pc]!;
    switch (insn.code) {
      case BPF_LD_W_ABS:
        acc = insn.k === NR ? data.nr : insn.k === ARCH ? data.arch : insn.k === ARG0_LOW ? (data.arg0 ?? 0) : 0;
        break;
      case BPF_JEQ_K:
        pc += (acc >>> 0) === insn.k ? insn.jt : insn.jf;
        break;
      case BPF_JGE_K:
        pc += (acc >>> 0) >= insn.k ? insn.jt : insn.jf;
        break;
      case BPF_JSET_K:
        pc += ((acc & insn.k) >>> 0) !== 0 ? insn.jt : insn.jf;
        break;
      case BPF_RET_K: {
        if (insn.k === SECCOMP_RET_ALLOW) return 'allow';
        if (insn.k === SECCOMP_RET_KILL_PROCESS) return 'kill';
        return (insn.k & 0xffff) === ENOSYS ? 'enosys' : 'eperm';
      }
      default:
        throw new Error(`unknown instruction ${insn.code}`);
    }
  }
  throw new Error('the filter fell off its end');
}
