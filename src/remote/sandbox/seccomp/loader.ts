import { bodyAddress, elfExecutable } from '../../static/elf.ts';
import { encodeFilter, jobFilter } from './filter.ts';

/*
 * herd-seccomp: a static executable herd writes itself (see static/elf.ts), so a host needs no
 * compiler, libseccomp or bwrap. It sets no_new_privs, loads the job filter
 * and execs its arguments:
 *
 *   herd-seccomp COMMAND [ARG...]
 *
 * On failure to load the filter it says so on stderr and exits 125; if exec fails, 127. The
 * machine code below was assembled once (GNU as, Intel syntax) and is kept as bytes with its
 * source beside it; the filter that follows it is built by filter.ts.
 */

/* prettier-ignore */
const CODE = [
  0xb8, 0x9d, 0x00, 0x00, 0x00, //       mov  eax, 157            prctl
  0xbf, 0x26, 0x00, 0x00, 0x00, //       mov  edi, 38             PR_SET_NO_NEW_PRIVS
  0xbe, 0x01, 0x00, 0x00, 0x00, //       mov  esi, 1
  0x31, 0xd2, //                         xor  edx, edx
  0x45, 0x31, 0xd2, //                   xor  r10d, r10d
  0x45, 0x31, 0xc0, //                   xor  r8d, r8d
  0x0f, 0x05, //                         syscall
  0x85, 0xc0, //                         test eax, eax
  0x75, 0x38, //                         jnz  fail
  0xb8, 0x3d, 0x01, 0x00, 0x00, //       mov  eax, 317            seccomp
  0xbf, 0x01, 0x00, 0x00, 0x00, //       mov  edi, 1              SECCOMP_SET_MODE_FILTER
  0x31, 0xf6, //                         xor  esi, esi
  0x48, 0x8d, 0x15, 0x74, 0x00, 0x00, 0x00, // lea rdx, [rip + fprog]
  0x0f, 0x05, //                         syscall
  0x85, 0xc0, //                         test eax, eax
  0x75, 0x1f, //                         jnz  fail
  0x48, 0x8b, 0x0c, 0x24, //             mov  rcx, [rsp]          argc
  0x48, 0x8d, 0x74, 0x24, 0x10, //       lea  rsi, [rsp + 16]     &argv[1]
  0x48, 0x8b, 0x3e, //                   mov  rdi, [rsi]          argv[1]
  0x48, 0x8d, 0x54, 0xcc, 0x10, //       lea  rdx, [rsp + rcx*8 + 16]   envp
  0xb8, 0x3b, 0x00, 0x00, 0x00, //       mov  eax, 59             execve
  0x0f, 0x05, //                         syscall
  0xbf, 0x7f, 0x00, 0x00, 0x00, //       mov  edi, 127
  0xeb, 0x1d, //                         jmp  out
  0xb8, 0x01, 0x00, 0x00, 0x00, // fail: mov  eax, 1              write
  0xbf, 0x02, 0x00, 0x00, 0x00, //       mov  edi, 2
  0x48, 0x8d, 0x35, 0x13, 0x00, 0x00, 0x00, // lea rsi, [rip + msg]
  0xba, 0x2b, 0x00, 0x00, 0x00, //       mov  edx, 43
  0x0f, 0x05, //                         syscall
  0xbf, 0x7d, 0x00, 0x00, 0x00, //       mov  edi, 125
  0xb8, 0xe7, 0x00, 0x00, 0x00, // out:  mov  eax, 231            exit_group
  0x0f, 0x05, //                         syscall
];
/** 43 bytes, at code offset 0x79 (the lea above points there). */
const MESSAGE = "herd: cannot load the job's seccomp filter\n";
/** struct sock_fprog, at code offset 0xa4: u16 length, 6 bytes of padding, u64 address of the filter. */
const FPROG_OFFSET = 0xa4;

export function seccompLoader(): Uint8Array {
  const filter = encodeFilter(jobFilter());
  const message = new TextEncoder().encode(MESSAGE);
  if (CODE.length + message.length !== FPROG_OFFSET) throw new Error('herd-seccomp: the code and its offsets disagree');
  const filterOffset = FPROG_OFFSET + 16;
  const body = new Uint8Array(filterOffset + filter.length);
  const view = new DataView(body.buffer);
  body.set(CODE, 0);
  body.set(message, CODE.length);
  view.setUint16(FPROG_OFFSET, filter.length / 8, true);
  view.setBigUint64(FPROG_OFFSET + 8, bodyAddress(filterOffset), true);
  body.set(filter, filterOffset);
  return elfExecutable(body);
}
