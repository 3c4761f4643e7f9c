/*
 * herd's static helpers (herd-seccomp, herd-devices) are x86_64 Linux executables of a few
 * hundred bytes that herd writes itself, so a host needs no compiler and no library. Each is one
 * ELF header, one program header, and a body that starts with its code: the whole file is mapped
 * at ELF_BASE, and the code starts right after the headers.
 */

/** Where the file is mapped (ET_EXEC, one PT_LOAD of the whole file). */
export const ELF_BASE = 0x400000;
/** The ELF header (64 bytes) and the one program header (56): the body starts here, and is the entry. */
export const ELF_HEADERS = 64 + 56;

/** The address a body offset is mapped at. */
export function bodyAddress(offset: number): bigint {
  return BigInt(ELF_BASE + ELF_HEADERS + offset);
}

/** An executable of `body`: mapped readable and executable, entered at its first byte. */
export function elfExecutable(body: Uint8Array): Uint8Array {
  const size = ELF_HEADERS + body.length;
  const file = new Uint8Array(size);
  const view = new DataView(file.buffer);
  // ELF header: 64-bit, little-endian, SysV, an executable for x86_64.
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  view.setUint16(16, 2, true); // e_type ET_EXEC
  view.setUint16(18, 0x3e, true); // e_machine EM_X86_64
  view.setUint32(20, 1, true); // e_version
  view.setBigUint64(24, bodyAddress(0), true); // e_entry
  view.setBigUint64(32, 64n, true); // e_phoff
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, 1, true); // e_phnum
  // The one program header: the whole file, readable and executable, at ELF_BASE.
  view.setUint32(64, 1, true); // PT_LOAD
  view.setUint32(68, 5, true); // PF_R | PF_X
  view.setBigUint64(72, 0n, true); // p_offset
  view.setBigUint64(80, BigInt(ELF_BASE), true); // p_vaddr
  view.setBigUint64(88, BigInt(ELF_BASE), true); // p_paddr
  view.setBigUint64(96, BigInt(size), true); // p_filesz
  view.setBigUint64(104, BigInt(size), true); // p_memsz
  view.setBigUint64(112, 0x1000n, true); // p_align
  file.set(body, ELF_HEADERS);
  return file;
}
