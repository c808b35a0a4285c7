/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* soda-uml-xstate.so against the real kernel: a traced child's FPU state
 * written with a buffer shorter than the host's XSAVE size (as linux.uml 6.1
 * writes it) is refused by the kernel alone and taken through the shim, with
 * the caller's registers intact; other requests pass through; and a guest
 * computes with floating point across many context switches. */
#include "it_common.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#define XMM0_OFFSET 160 /* in the FXSAVE legacy area */
#define YMM0H_OFFSET 576 /* AVX upper halves, standard format */
#define XSTATE_BV_OFFSET 512
/* x87 + SSE + AVX: the smallest buffer that still holds YMM0's upper half. */
#define SHORT_LEN 832

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

static unsigned char buf[65536] __attribute__((aligned(64)));
static unsigned char back[65536] __attribute__((aligned(64)));

static pid_t traced_child(void)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSTOPPED(status));
	return pid;
}

static long raw(int req, pid_t pid, void *addr, void *data)
{
	return syscall(SYS_ptrace, req, pid, addr, data);
}

static ptrace_fn load_shim(void **handle)
{
	ptrace_fn fn;

	*handle = dlopen(SODA_TEST_XSTATE, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(*handle);
	fn = (ptrace_fn)dlsym(*handle, "ptrace");
	assert_non_null(fn);
	return fn;
}

static void test_short_write_widened(void **state)
{
	struct iovec iov = { buf, sizeof(buf) };
	void *handle;
	ptrace_fn shim = load_shim(&handle);
	size_t full;
	uint64_t bv;
	pid_t pid;

	(void)state;
	th_require_root();
	pid = traced_child();
	assert_int_equal(raw(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov), 0);
	full = iov.iov_len;
	if (full <= SHORT_LEN) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		dlclose(handle);
		skip(); /* a host without AVX-512: nothing to widen */
	}
	/* Recognisable XMM0 and YMM0-high, AVX marked in use. */
	for (int i = 0; i < 16; i++) {
		buf[XMM0_OFFSET + i] = (unsigned char)(0xa0 + i);
		buf[YMM0H_OFFSET + i] = (unsigned char)(0x50 + i);
	}
	memcpy(&bv, buf + XSTATE_BV_OFFSET, sizeof(bv));
	bv |= 0x7;
	memcpy(buf + XSTATE_BV_OFFSET, &bv, sizeof(bv));

	/* The kernel alone refuses a short write: what linux.uml 6.1 meets. */
	iov = (struct iovec){ buf, SHORT_LEN };
	errno = 0;
	assert_int_equal(raw(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov), -1);
	assert_int_equal(errno, EFAULT);
	/* Through the shim it is taken, and reads back as written. */
	assert_int_equal(shim(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov), 0);
	iov = (struct iovec){ back, sizeof(back) };
	assert_int_equal(raw(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov), 0);
	assert_int_equal(iov.iov_len, full);
	assert_memory_equal(back + XMM0_OFFSET, buf + XMM0_OFFSET, 16);
	assert_memory_equal(back + YMM0H_OFFSET, buf + YMM0H_OFFSET, 16);
	/* A full-size write passes straight through. */
	buf[XMM0_OFFSET] = 0x11;
	memcpy(buf + XSTATE_BV_OFFSET, back + XSTATE_BV_OFFSET, 8);
	iov = (struct iovec){ buf, full };
	memcpy(buf + SHORT_LEN, back + SHORT_LEN, full - SHORT_LEN);
	assert_int_equal(shim(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov), 0);
	iov = (struct iovec){ back, sizeof(back) };
	assert_int_equal(raw(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov), 0);
	assert_int_equal(back[XMM0_OFFSET], 0x11);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	dlclose(handle);
}

static void test_other_requests_pass(void **state)
{
	struct user_regs_struct regs;
	void *handle;
	ptrace_fn shim = load_shim(&handle);
	long word;
	pid_t pid;

	(void)state;
	th_require_root();
	pid = traced_child();
	/* GETREGS fills the caller's struct; PEEKUSER returns the word, which
	 * only glibc's wrapper (not the raw call) does: both went through. */
	memset(&regs, 0, sizeof(regs));
	assert_int_equal(shim(PTRACE_GETREGS, pid, NULL, &regs), 0);
	assert_true(regs.rip != 0);
	errno = 0;
	word = shim(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user_regs_struct, rip), NULL);
	assert_int_equal(errno, 0);
	assert_true((unsigned long)word == regs.rip);
	/* A bad request still fails as the kernel says. */
	errno = 0;
	assert_int_equal(shim(PTRACE_GETREGS, pid + 100000, NULL, &regs), -1);
	assert_int_equal(errno, ESRCH);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	dlclose(handle);
}

/* Two guest processes keep floating-point work going while the guest's
 * kernel switches between them (each switch saves and restores the FPU
 * state through ptrace): the sums come out exact. */
static void test_guest_floating_point(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char *out = NULL;

	th_require_root();
	th_build_image(env);
	srv = th_start_server(env, "fpu", 48);
	assert_int_equal(th_exec(srv,
				 "for i in 1 2; do awk 'BEGIN{s=0; for(k=1;k<=200000;k++) "
				 "s+=0.5; printf \"%.1f\\n\", s}' & done; wait",
				 &out),
			 0);
	{
		int sums = 0;

		for (const char *p = out; (p = strstr(p, "100000.0\n")); p++)
			sums++;
		assert_int_equal(sums, 2);
	}
	free(out);
	soda_server_unref(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_write_widened),
		cmocka_unit_test(test_other_requests_pass),
		cmocka_unit_test_setup_teardown(test_guest_floating_point, env_setup, env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
