/**
 * The devices a job may open, enforced by the kernel in the job's cgroup: cgroup v1's devices
 * controller takes them as lines, cgroup v2 as an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * that herd assembles here. Everything else is denied, mknod included, even for a node that
 * reached the job some other way. The list is the job's /dev (sandboxPlan.ts DEVICES, and the
 * job's own devpts), the same nodes runc allows by default, less tun and mknod.
 */
export interface DeviceRule {
  type: 'c' | 'b';
  major: number;
  /** '*': every minor of the major (the job's pseudo-terminals). */
  minor: number | '*';
  what: string;
}

export const JOB_DEVICES: readonly DeviceRule[] = [
  { type: 'c', major: 1, minor: 3, what: '/dev/null' },
  { type: 'c', major: 1, minor: 5, what: '/dev/zero' },
  { type: 'c', major: 1, minor: 7, what: '/dev/full' },
  { type: 'c', major: 1, minor: 8, what: '/dev/random' },
  { type: 'c', major: 1, minor: 9, what: '/dev/urandom' },
  { type: 'c', major: 5, minor: 0, what: '/dev/tty' },
  { type: 'c', major: 5, minor: 2, what: '/dev/ptmx (the job\'s devpts)' },
  { type: 'c', major: 136, minor: '*', what: '/dev/pts/N' },
];

/** What each rule grants: read and write, never mknod. */
const ACCESS = 'rw';

/** cgroup v1: deny everything, then allow each rule (one rule per write, as the kernel parses them). */
export function v1DeviceWrites(dir: string): Array<{ path: string; value: string }> {
  return [
    { path: `${dir}/devices.deny`, value: 'a' },
    ...JOB_DEVICES.map((rule) => ({ path: `${dir}/devices.allow`, value: `${rule.type} ${rule.major}:${rule.minor} ${ACCESS}` })),
  ];
}

/** struct bpf_cgroup_dev_ctx, as the program sees it: access_type is (access << 16) | type. */
export interface DeviceAccess {
  type: 'c' | 'b';
  access: { read?: boolean; write?: boolean; mknod?: boolean };
  major: number;
  minor: number;
}

/** include/uapi/linux/bpf.h: BPF_DEVCG_DEV_BLOCK/CHAR and BPF_DEVCG_ACC_MKNOD/READ/WRITE. */
const DEV_TYPE = { b: 1, c: 2 } as const;
const ACC = { mknod: 1, read: 2, write: 4 } as const;

/* eBPF opcodes the program uses (class | op | source). */
const LDX_W = 0x61; // r_dst = *(u32 *)(r_src + off)
const MOV64_X = 0xbf;
const MOV64_K = 0xb7;
const AND64_K = 0x57;
const RSH64_K = 0x77;
const JNE_K = 0x55; // if r_dst != imm goto pc + 1 + off
const EXIT = 0x95;

type Instruction = [code: number, dst: number, src: number, off: number, imm: number];

/**
 * The v2 policy: r2 = access bits, r3 = type, r4 = major, r5 = minor; each rule is a block that
 * falls through to the next on a mismatch and returns 1 (allow) when the type, numbers and every
 * requested access match; after the last, 0 (deny).
 */
export function deviceProgram(rules: readonly DeviceRule[] = JOB_DEVICES): Instruction[] {
  const program: Instruction[] = [
    [LDX_W, 2, 1, 0, 0],
    [MOV64_X, 3, 2, 0, 0],
    [AND64_K, 3, 0, 0, 0xffff],
    [RSH64_K, 2, 0, 0, 16],
    [LDX_W, 4, 1, 4, 0],
    [LDX_W, 5, 1, 8, 0],
  ];
  const granted = ACC.read | ACC.write;
  for (const rule of rules) {
    const tests: Array<[register: number, value: number]> = [[3, DEV_TYPE[rule.type]], [4, rule.major]];
    if (rule.minor !== '*') tests.push([5, rule.minor]);
    // After the tests: r0 = requested & ~granted; if r0 != 0 skip; r0 = 1; exit.
    const tail: Instruction[] = [[MOV64_X, 0, 2, 0, 0], [AND64_K, 0, 0, 0, ~granted], [JNE_K, 0, 0, 2, 0], [MOV64_K, 0, 0, 0, 1], [EXIT, 0, 0, 0, 0]];
    tests.forEach(([register, value], i) => program.push([JNE_K, register, 0, tests.length - 1 - i + tail.length, value]));
    program.push(...tail);
  }
  program.push([MOV64_K, 0, 0, 0, 0], [EXIT, 0, 0, 0, 0]);
  return program;
}

/** struct bpf_insn: u8 code, u8 dst_reg:4 src_reg:4, s16 off, s32 imm. */
export function encodeProgram(program: readonly Instruction[]): Uint8Array {
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach(([code, dst, src, off, imm], i) => {
    view.setUint8(i * 8, code);
    view.setUint8(i * 8 + 1, (src << 4) | dst);
    view.setInt16(i * 8 + 2, off, true);
    view.setInt32(i * 8 + 4, imm, true);
  });
  return bytes;
}

/**
 * Runs an encoded program as the kernel would, for the opcodes above (unit tests check the
 * policy this way; the real kernel checks it in the integration tests).
 */
export function runDeviceProgram(bytes: Uint8Array, request: DeviceAccess): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const access = (request.access.read === true ? ACC.read : 0) | (request.access.write === true ? ACC.write : 0) | (request.access.mknod === true ? ACC.mknod : 0);
  const context = [(access << 16) | DEV_TYPE[request.type], request.major, request.minor];
  const r = new Array<bigint>(11).fill(0n);
  const mask = (1n << 64n) - 1n;
  for (let pc = 0, steps = 0; pc * 8 < bytes.length && steps < 4096; pc++, steps++) {
    const code = view.getUint8(pc * 8);
    const dst = view.getUint8(pc * 8 + 1) & 0xf;
    const src = view.getUint8(pc * 8 + 1) >> 4;
    const off = view.getInt16(pc * 8 + 2, true);
    const imm = BigInt.asUintN(64, BigInt(view.getInt32(pc * 8 + 4, true)));
    switch (code) {
      case LDX_W:
        if (src !== 1 || off % 4 !== 0 || off / 4 >= context.length) throw new Error(`bad context load at ${pc}`);
        r[dst] = BigInt(context[off / 4]! >>> 0);
        break;
      case MOV64_X: r[dst] = r[src]!; break;
      case MOV64_K: r[dst] = imm; break;
      case AND64_K: r[dst] = r[dst]! & imm; break;
      case RSH64_K: r[dst] = (r[dst]! >> imm) & mask; break;
      case JNE_K: if (r[dst] !== imm) pc += off; break;
      case EXIT: return Number(r[0]);
      default: throw new Error(`opcode 0x${code.toString(16)} at ${pc} is not one the device program uses`);
    }
  }
  throw new Error('the device program ran off its end');
}
