import { bodyAddress, elfExecutable } from '../static/elf.ts';
import { deviceProgram, encodeProgram } from './devicePolicy.ts';

/*
 * herd-devices: attaches the job device policy (devicePolicy.ts) to a cgroup v2 directory, for
 * hosts where the only device controller is eBPF. A static executable herd writes itself (see
 * static/elf.ts): no compiler, bpftool or libbpf on the host.
 *
 *   herd-devices CGROUP_DIR
 *
 * It opens the directory, loads the program (bpf BPF_PROG_LOAD) and attaches it
 * (BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, no flags: nothing below may replace it). The attachment
 * lives as long as the cgroup, so the program exits at once. On failure it names the step on
 * stderr and exits with the errno. The machine code was assembled once (GNU as, Intel syntax)
 * and is kept as bytes with its source beside it; the program that follows is built above.
 */

/* prettier-ignore */
const CODE = [
  0x31, 0xdb, //                               xor  ebx, ebx            step 0: open
  0x48, 0x8b, 0x7c, 0x24, 0x10, //             mov  rdi, [rsp + 16]     argv[1]
  0xb8, 0x02, 0x00, 0x00, 0x00, //             mov  eax, 2              open
  0xbe, 0x00, 0x00, 0x09, 0x00, //             mov  esi, 0x90000        O_RDONLY | O_DIRECTORY | O_CLOEXEC
  0x31, 0xd2, //                               xor  edx, edx
  0x0f, 0x05, //                               syscall
  0x85, 0xc0, //                               test eax, eax
  0x78, 0x5a, //                               js   fail
  0x41, 0x89, 0xc4, //                         mov  r12d, eax           the cgroup's fd
  0xff, 0xc3, //                               inc  ebx                 step 1: load
  0xb8, 0x41, 0x01, 0x00, 0x00, //             mov  eax, 321            bpf
  0xbf, 0x05, 0x00, 0x00, 0x00, //             mov  edi, 5              BPF_PROG_LOAD
  0x48, 0x8d, 0x35, 0xc9, 0x00, 0x00, 0x00, // lea  rsi, [rip + attr]
  0xba, 0x48, 0x00, 0x00, 0x00, //             mov  edx, 72             sizeof the attr below
  0x0f, 0x05, //                               syscall
  0x85, 0xc0, //                               test eax, eax
  0x78, 0x39, //                               js   fail
  0xff, 0xc3, //                               inc  ebx                 step 2: attach
  0x48, 0x83, 0xec, 0x18, //                   sub  rsp, 24             union bpf_attr, attach part:
  0x44, 0x89, 0x24, 0x24, //                   mov  [rsp], r12d           target_fd
  0x89, 0x44, 0x24, 0x04, //                   mov  [rsp + 4], eax        attach_bpf_fd
  0xc7, 0x44, 0x24, 0x08, 0x06, 0x00, 0x00, 0x00, // mov dword [rsp + 8], 6  BPF_CGROUP_DEVICE
  0x31, 0xc9, //                               xor  ecx, ecx
  0x48, 0x89, 0x4c, 0x24, 0x0c, //             mov  [rsp + 12], rcx       attach_flags, replace_bpf_fd
  0xb8, 0x41, 0x01, 0x00, 0x00, //             mov  eax, 321            bpf
  0xbf, 0x08, 0x00, 0x00, 0x00, //             mov  edi, 8              BPF_PROG_ATTACH
  0x48, 0x89, 0xe6, //                         mov  rsi, rsp
  0xba, 0x14, 0x00, 0x00, 0x00, //             mov  edx, 20
  0x0f, 0x05, //                               syscall
  0x85, 0xc0, //                               test eax, eax
  0x78, 0x04, //                               js   fail
  0x31, 0xff, //                               xor  edi, edi
  0xeb, 0x26, //                               jmp  out
  0xf7, 0xd8, //                         fail: neg  eax                 errno
  0x41, 0x89, 0xc5, //                         mov  r13d, eax
  0x6b, 0xf3, 0x1c, //                         imul esi, ebx, 28        this step's message
  0x48, 0x8d, 0x05, 0x1e, 0x00, 0x00, 0x00, // lea  rax, [rip + msgs]
  0x48, 0x01, 0xc6, //                         add  rsi, rax
  0xb8, 0x01, 0x00, 0x00, 0x00, //             mov  eax, 1              write
  0xbf, 0x02, 0x00, 0x00, 0x00, //             mov  edi, 2
  0xba, 0x1c, 0x00, 0x00, 0x00, //             mov  edx, 28
  0x0f, 0x05, //                               syscall
  0x44, 0x89, 0xef, //                         mov  edi, r13d
  0xb8, 0xe7, 0x00, 0x00, 0x00, //       out:  mov  eax, 231            exit_group
  0x0f, 0x05, //                               syscall
];
/** At code offset 0xa0 (msgs): one 28-byte message per step, as the imul above indexes them. */
const MESSAGES = ['herd-devices: open   failed\n', 'herd-devices: load   failed\n', 'herd-devices: attach failed\n'];
/** union bpf_attr for BPF_PROG_LOAD, at code offset 0xf8 (attr), up to expected_attach_type. */
const ATTR_OFFSET = 0xf8;
const ATTR_SIZE = 72;
/** BPF_PROG_TYPE_CGROUP_DEVICE. */
const PROG_TYPE_CGROUP_DEVICE = 15;
/** bpf_attr.prog_name: what `bpftool prog` shows. */
const PROG_NAME = 'herd_devices';
const LICENSE = 'MIT\0';

export function deviceLoader(): Uint8Array {
  const text = new TextEncoder();
  const messages = text.encode(MESSAGES.join(''));
  if (CODE.length !== 0xa0 || MESSAGES.some((m) => m.length !== 28) || 0xa0 + messages.length > ATTR_OFFSET) {
    throw new Error('herd-devices: the code and its offsets disagree');
  }
  const program = encodeProgram(deviceProgram());
  const programOffset = ATTR_OFFSET + ATTR_SIZE;
  const licenseOffset = programOffset + program.length;
  const license = text.encode(LICENSE);
  const body = new Uint8Array(licenseOffset + license.length);
  const view = new DataView(body.buffer);
  body.set(CODE, 0);
  body.set(messages, 0xa0);
  view.setUint32(ATTR_OFFSET, PROG_TYPE_CGROUP_DEVICE, true); // prog_type
  view.setUint32(ATTR_OFFSET + 4, program.length / 8, true); // insn_cnt
  view.setBigUint64(ATTR_OFFSET + 8, bodyAddress(programOffset), true); // insns
  view.setBigUint64(ATTR_OFFSET + 16, bodyAddress(licenseOffset), true); // license
  // log_level, log_size, log_buf, kern_version, prog_flags: 0
  body.set(text.encode(PROG_NAME), ATTR_OFFSET + 48); // prog_name[16]
  // prog_ifindex, expected_attach_type: 0
  body.set(program, programOffset);
  body.set(license, licenseOffset);
  return elfExecutable(body);
}
