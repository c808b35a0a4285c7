/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-uml-xstate.so: preloaded into linux.uml inside the jail.
 *
 * Why: linux.uml 6.1 (Debian 12) saves and restores its processes' FPU state
 * with PTRACE_GETREGSET / PTRACE_SETREGSET NT_X86_XSTATE and a buffer of a
 * fixed size (2696 bytes: x87, SSE, AVX, AVX-512, PKRU). The host kernel
 * insists that SETREGSET passes exactly its whole user XSAVE size, which on
 * a CPU with AMX (tile configuration and 8 KiB of tile data) is 11008 bytes,
 * so every SETREGSET fails with EFAULT, UML prints "ptrace set fp regs
 * failed, errno = 14" and its init dies: no guest boots on such a host.
 * Newer UML kernels size the buffer from the host; Debian 12's does not.
 *
 * What: a SETREGSET NT_X86_XSTATE shorter than the host's size is widened
 * to it. The caller's bytes are kept; the components that lie wholly
 * inside them keep their bit in XSTATE_BV; every component beyond (AMX
 * here) is declared in its initial state, which is what it is, since a
 * guest process can never ask the host for AMX permission (its system
 * calls go to UML, not to the host). Every other call passes through
 * unchanged, so on hosts whose size matches this library does nothing.
 *
 * Constraints: the call runs on UML's small kernel stacks, so the wide
 * buffer is static (UML's tracing runs on one host thread), and everything
 * that could use much stack (dlsym, CPUID) happens in the constructor.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define XSAVE_MAX 65536
#define XSTATE_BV_OFFSET 512 /* the XSAVE header follows the 512-byte legacy area */
#define NCOMP 64

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

static ptrace_fn real_ptrace;
static size_t host_size;        /* the kernel's user XSAVE size; 0: not known yet */
static uint32_t comp_end[NCOMP]; /* standard-format end offset of each component */
static unsigned char wide[XSAVE_MAX] __attribute__((aligned(64)));

__attribute__((constructor)) static void init(void)
{
	unsigned int a, b, c, d;

	real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	/* Components 0 and 1 live in the legacy area; 2..63 say where they
	 * are in CPUID leaf 0xD. */
	comp_end[0] = comp_end[1] = XSTATE_BV_OFFSET;
	if (__get_cpuid_max(0, NULL) < 0xd)
		return;
	for (unsigned int i = 2; i < NCOMP; i++) {
		__cpuid_count(0xd, i, a, b, c, d);
		/* ECX bit 0: a supervisor component, never in the user layout. */
		comp_end[i] = (a && !(c & 1)) ? a + b : 0;
	}
}

static long raw_ptrace(int req, pid_t pid, void *addr, void *data)
{
	return syscall(SYS_ptrace, req, pid, addr, data);
}

/* The kernel's size, learnt once from a GETREGSET that may be as wide as it
 * likes: the kernel shortens iov_len to what it has. */
static size_t learn_host_size(pid_t pid)
{
	struct iovec iov = { wide, sizeof(wide) };

	if (!host_size && raw_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) == 0)
		host_size = iov.iov_len;
	return host_size;
}

static long set_xstate(pid_t pid, const struct iovec *in)
{
	size_t full = learn_host_size(pid);
	struct iovec iov;
	uint64_t bv;

	if (!full || in->iov_len >= full || full > sizeof(wide) ||
	    in->iov_len < XSTATE_BV_OFFSET + sizeof(bv))
		return raw_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, (void *)in);
	memcpy(wide, in->iov_base, in->iov_len);
	memset(wide + in->iov_len, 0, full - in->iov_len);
	memcpy(&bv, wide + XSTATE_BV_OFFSET, sizeof(bv));
	for (unsigned int i = 2; i < NCOMP; i++)
		if (comp_end[i] > in->iov_len)
			bv &= ~(1ull << i);
	memcpy(wide + XSTATE_BV_OFFSET, &bv, sizeof(bv));
	iov = (struct iovec){ wide, full };
	return raw_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov);
}

/* glibc's prototype; it reads pid, addr and data whatever the request. */
long ptrace(enum __ptrace_request request, ...)
{
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (request == PTRACE_SETREGSET && (uintptr_t)addr == NT_X86_XSTATE && data)
		return set_xstate(pid, data);
	if (!real_ptrace) {
		errno = ENOSYS;
		return -1;
	}
	return real_ptrace((int)request, pid, addr, data);
}
