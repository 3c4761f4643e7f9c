import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AUDIT_ARCH_X86_64, CLONE_NAMESPACE_FLAGS, DENIED_X86_64, encodeFilter, jobFilter, verdict } from '../../../../../src/remote/sandbox/seccomp/filter.ts';
import { seccompLoader } from '../../../../../src/remote/sandbox/seccomp/loader.ts';

const program = jobFilter();
const call = (nr: number, arg0 = 0) => verdict(program, { nr, arch: AUDIT_ARCH_X86_64, arg0 });

test('seccomp: the denied list fails with EPERM, everything else is allowed', () => {
  for (const [name, nr] of Object.entries(DENIED_X86_64)) assert.is(call(nr), 'eperm', name);
  // read, write, openat, execve, getpid, mmap, ptrace (allowed, as in Docker on kernels >= 4.8), socket
  for (const nr of [0, 1, 257, 59, 39, 9, 101, 41]) assert.is(call(nr), 'allow', String(nr));
});

test('seccomp: clone with a namespace flag is refused, a plain fork or thread is not; clone3 is ENOSYS', () => {
  const SIGCHLD = 17;
  assert.is(call(56, SIGCHLD), 'allow', 'fork');
  assert.is(call(56, 0x003d0f00), 'allow', 'pthread_create\'s flags');
  assert.is(call(56, SIGCHLD | 0x10000000), 'eperm', 'CLONE_NEWUSER');
  assert.is(call(56, CLONE_NAMESPACE_FLAGS), 'eperm');
  assert.is(call(435), 'enosys');
});

test('seccomp: another ABI is killed: x32 numbers, or another architecture', () => {
  assert.is(call(0x40000000 + 1), 'kill');
  assert.is(verdict(program, { nr: 1, arch: 0x40000003 }), 'kill', 'i386');
});

test('seccomp loader: a static x86_64 ELF whose filter is the one above', () => {
  const file = seccompLoader();
  const view = new DataView(file.buffer);
  assert.equal([...file.slice(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.is(view.getUint16(18, true), 0x3e, 'EM_X86_64');
  assert.is(view.getUint16(16, true), 2, 'ET_EXEC');
  const filter = encodeFilter(program);
  assert.equal([...file.slice(file.length - filter.length)], [...filter]);
  // struct sock_fprog: the length and the address where the filter is mapped.
  const fprog = 120 + 0xa4;
  assert.is(view.getUint16(fprog, true), program.length);
  assert.is(Number(view.getBigUint64(fprog + 8, true)), 0x400000 + file.length - filter.length);
  assert.ok(file.length < 1024, 'a few hundred bytes');
});

test.run();
