/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The filter is written by hand in classic BPF: the architecture first (any
 * other, x32 included, is a violation), then the calls with argument
 * checks, then one "jeq NR; ret ALLOW" pair per allowed call (pairs keep
 * every jump short), most frequent first, and a violation at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp.h"
#include "syscall_names.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* What linux.uml 6.1 calls on the host, most frequent first (strace of the
 * main process and SODA_SECCOMP=log over the integration tests for its
 * helpers and the stubs of the guest's processes). */
static const int allowed[] = {
	__NR_wait4, __NR_kill, __NR_rt_sigreturn, __NR_timer_settime, __NR_mmap, __NR_munmap,
	__NR_write, __NR_read, __NR_ioctl, __NR_epoll_wait, __NR_newfstatat, __NR_openat,
	__NR_fcntl, __NR_rt_sigprocmask, __NR_access, __NR_close, __NR_getpid, __NR_mprotect,
	__NR_timer_gettime, __NR_rt_sigsuspend, __NR_rt_sigaction, __NR_getrandom,
	__NR_epoll_ctl, __NR_pread64, __NR_pwrite64, __NR_preadv, __NR_pwritev, __NR_readv,
	__NR_writev, __NR_lseek, __NR_brk, __NR_readlink, __NR_readlinkat, __NR_getdents64,
	__NR_uname, __NR_prlimit64, __NR_getrlimit, __NR_socketpair, __NR_unlink,
	__NR_unlinkat, __NR_set_tid_address, __NR_set_robust_list, __NR_get_robust_list,
	__NR_rseq, __NR_mkdir, __NR_mkdirat, __NR_execve, __NR_arch_prctl, __NR_timer_create,
	__NR_timer_delete, __NR_timer_getoverrun, __NR_statfs, __NR_fstatfs, __NR_sigaltstack,
	__NR_setsid, __NR_rmdir, __NR_personality, __NR_modify_ldt, __NR_madvise, __NR_futex,
	__NR_fsync, __NR_fdatasync, __NR_exit_group, __NR_exit, __NR_epoll_create,
	__NR_epoll_create1, __NR_epoll_pwait, __NR_bind, __NR_connect, __NR_sendto,
	__NR_recvfrom, __NR_sendmsg, __NR_recvmsg, __NR_getsockname, __NR_getpeername,
	__NR_setsockopt, __NR_getsockopt, __NR_shutdown, __NR_listen, __NR_accept,
	__NR_accept4, __NR_fstat, __NR_stat, __NR_lstat, __NR_statx, __NR_open, __NR_creat,
	__NR_faccessat, __NR_faccessat2, __NR_rename, __NR_renameat, __NR_renameat2,
	__NR_link, __NR_linkat, __NR_symlink, __NR_symlinkat, __NR_chmod, __NR_fchmod,
	__NR_fchmodat, __NR_chown, __NR_fchown, __NR_fchownat, __NR_lchown, __NR_truncate,
	__NR_ftruncate, __NR_fallocate, __NR_utimensat, __NR_utimes, __NR_utime,
	__NR_dup, __NR_dup2, __NR_dup3, __NR_flock, __NR_mremap, __NR_msync, __NR_mincore,
	__NR_rt_sigtimedwait, __NR_tgkill, __NR_tkill, __NR_gettid, __NR_getppid,
	__NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid, __NR_getresuid,
	__NR_getresgid, __NR_getpgrp, __NR_getpgid, __NR_setpgid, __NR_waitid,
	__NR_clock_gettime, __NR_clock_getres, __NR_clock_nanosleep, __NR_nanosleep,
	__NR_gettimeofday, __NR_time, __NR_setitimer, __NR_getitimer, __NR_alarm,
	__NR_poll, __NR_ppoll, __NR_select, __NR_pselect6, __NR_pipe, __NR_pipe2,
	__NR_eventfd2, __NR_getcwd, __NR_chdir, __NR_fchdir, __NR_umask, __NR_sched_yield,
	__NR_sched_getaffinity, __NR_getcpu, __NR_sysinfo, __NR_getrusage, __NR_times,
	__NR_memfd_create, __NR_fork, __NR_pause, __NR_restart_syscall,
};

#define NS_FLAGS                                                                            \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |          \
	 CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARG0_LO BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define LD_ARG0_HI                                                                          \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4)
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

int su_seccomp_install(enum su_seccomp_mode mode, bool gate_threads, char *err, size_t errlen)
{
	const uint32_t violation = SECCOMP_RET_USER_NOTIF;
	const size_t n_allowed = sizeof(allowed) / sizeof(allowed[0]);
	struct sock_filter head[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		RET(mode == SU_SECCOMP_LOG ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS),
		LD_NR,
		/* x32 numbers carry bit 30. */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
		RET(violation),
		/* clone: no new namespaces (the flags are in the low word);
		 * with @gate_threads, a clone of the address space (linux.uml's
		 * helper threads) waits for the monitor's answer. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 6),
		LD_ARG0_LO,
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1),
		RET(violation),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, gate_threads ? CLONE_VM : 0, 0, 1),
		RET(SECCOMP_RET_USER_NOTIF),
		RET(SECCOMP_RET_ALLOW),
		/* clone3's flags sit behind a pointer BPF cannot follow: libc
		 * falls back to clone on ENOSYS. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		RET(SECCOMP_RET_ERRNO | ENOSYS),
		/* ptrace: only what linux.uml does to the children it made
		 * (which asked with PTRACE_TRACEME); no attaching to others. */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ptrace, 0, 8),
		LD_ARG0_HI,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		RET(violation),
		LD_ARG0_LO,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_ATTACH, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_SEIZE, 0, 1),
		RET(violation),
		RET(SECCOMP_RET_ALLOW),
		/* socket: AF_UNIX only (management console, helpers). */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 7),
		LD_ARG0_HI,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		RET(violation),
		LD_ARG0_LO,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1),
		RET(SECCOMP_RET_ALLOW),
		RET(violation),
	};
	size_t n_head = sizeof(head) / sizeof(head[0]);
	size_t len = n_head + 1 + 2 * n_allowed + 1;
	struct sock_filter *prog = calloc(len, sizeof(*prog));
	struct sock_fprog fprog;
	size_t k = 0;
	int fd;

	if (!prog) {
		snprintf(err, errlen, "seccomp filter: out of memory");
		return -ENOMEM;
	}
	memcpy(prog, head, sizeof(head));
	k = n_head;
	/* The checks above loaded arguments only on their own paths, each of
	 * which returns; the fall-through path still holds nr, but reload it
	 * so that the allowlist never depends on that. */
	prog[k++] = (struct sock_filter)LD_NR;
	for (size_t i = 0; i < n_allowed; i++) {
		prog[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							 (uint32_t)allowed[i], 0, 1);
		prog[k++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
	}
	prog[k++] = (struct sock_filter)RET(violation);
	fprog.len = (unsigned short)k;
	fprog.filter = prog;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			  &fprog);
	free(prog);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "install the seccomp filter: %s", strerror(e));
		return -e;
	}
	/* The listener must not reach linux.uml. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int e = errno;

		close(fd);
		snprintf(err, errlen, "seccomp listener: %s", strerror(e));
		return -e;
	}
	return fd;
}

enum su_seccomp_mode su_seccomp_mode_from_env(void)
{
	const char *v = getenv("SODA_SECCOMP");

	return v && strcmp(v, "log") == 0 ? SU_SECCOMP_LOG : SU_SECCOMP_ENFORCE;
}

void su_syscall_name(int nr, char *buf, size_t len)
{
	if (nr >= 0 && (size_t)nr < sizeof(su_syscall_names) / sizeof(su_syscall_names[0]) &&
	    su_syscall_names[nr])
		snprintf(buf, len, "%s", su_syscall_names[nr]);
	else
		snprintf(buf, len, "syscall %d", nr);
}

bool su_seccomp_is_gate(const su_seccomp_event *ev)
{
	return ev->nr == __NR_clone && !(ev->args[0] & NS_FLAGS) && (ev->args[0] & CLONE_VM);
}

int su_seccomp_handle(int listener, bool (*decide)(const su_seccomp_event *ev), bool *ret_allowed,
		      su_seccomp_event *ev)
{
	bool allow;
	struct seccomp_notif_sizes sizes;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	int r = 0;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return -errno;
	/* The kernel's structures may be larger than this build's. */
	req = calloc(1, sizes.seccomp_notif > sizeof(*req) ? sizes.seccomp_notif : sizeof(*req));
	resp = calloc(1, sizes.seccomp_notif_resp > sizeof(*resp) ? sizes.seccomp_notif_resp
								    : sizeof(*resp));
	if (!req || !resp) {
		free(req);
		free(resp);
		return -ENOMEM;
	}
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
		r = errno == EINTR || errno == ENOENT ? -EAGAIN : -errno;
		goto out;
	}
	memset(ev, 0, sizeof(*ev));
	ev->nr = req->data.nr;
	ev->pid = (pid_t)req->pid;
	memcpy(ev->args, req->data.args, sizeof(ev->args));
	if (req->data.arch != AUDIT_ARCH_X86_64)
		snprintf(ev->name, sizeof(ev->name), "syscall %d (arch 0x%x)", ev->nr,
			 req->data.arch);
	else if (ev->nr & 0x40000000)
		snprintf(ev->name, sizeof(ev->name), "x32 syscall %d", ev->nr & ~0x40000000);
	else
		su_syscall_name(ev->nr, ev->name, sizeof(ev->name));
	resp->id = req->id;
	allow = decide(ev);
	*ret_allowed = allow;
	if (allow) {
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	} else {
		resp->error = -EPERM;
	}
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
		r = -errno;
out:
	free(req);
	free(resp);
	return r;
}
