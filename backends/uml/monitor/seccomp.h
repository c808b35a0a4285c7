/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The seccomp allowlist of linux.uml: the system calls Debian's linux.uml 6.1
 * makes on the host (traced over the integration tests), with argument
 * checks where a call is a door: clone without namespace flags (clone3
 * answers ENOSYS so that libc falls back to clone), ptrace of its own
 * children only (no PTRACE_ATTACH or PTRACE_SEIZE: they take a tracee the
 * process did not make), sockets of AF_UNIX only. Anything else (io_uring,
 * bpf, perf_event_open, userfaultfd, keyctl, mount, unshare, setns,
 * process_vm_*, ...) goes to soda-monitor through the filter's listener:
 * it names the call in the server's crash reason and kills the server
 * (enforce), or writes it to monitor.log and lets it run (log, for
 * diagnosis: SODA_SECCOMP=log in soda-monitor's environment).
 *
 * The guest's own processes never reach the filter: linux.uml runs them
 * under PTRACE_SYSEMU, which stops each system call at its entry and skips
 * it before seccomp is consulted; the guest kernel emulates it.
 */
#ifndef SODA_UML_SECCOMP_H
#define SODA_UML_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum su_seccomp_mode { SU_SECCOMP_ENFORCE, SU_SECCOMP_LOG };

/* The mode soda-monitor runs in: SODA_SECCOMP=log asks for LOG. */
enum su_seccomp_mode su_seccomp_mode_from_env(void);

/* Installs the filter on the calling process (no_new_privs set already).
 * With @gate_threads, a clone of the address space (linux.uml starts its
 * helper threads so, after it has made its memory file and before its
 * guest's first instruction) waits for the monitor (su_seccomp_is_gate()).
 * Returns the listener descriptor (close-on-exec), or -errno with @err. */
int su_seccomp_install(enum su_seccomp_mode mode, bool gate_threads, char *err, size_t errlen);

typedef struct su_seccomp_event {
	int nr;            /* the system call */
	pid_t pid;         /* who made it (the monitor's pid namespace) */
	uint64_t args[6];
	char name[32];     /* "io_uring_setup", or "syscall 999" */
} su_seccomp_event;

/* Takes one notification from @listener and answers it as @decide says:
 * true, the call goes ahead (a gate, or log mode); false, it fails with
 * EPERM (the monitor kills the server next). Returns 0 with @ev and
 * @allowed filled, or -errno (-ENOENT: the caller died before the answer;
 * -EAGAIN: nothing pending). */
int su_seccomp_handle(int listener, bool (*decide)(const su_seccomp_event *ev), bool *allowed,
		      su_seccomp_event *ev);
/* Is @ev the thread gate (a clone of the address space, no namespace)? */
bool su_seccomp_is_gate(const su_seccomp_event *ev);

/* "name" of a system call number, or "syscall N". */
void su_syscall_name(int nr, char *buf, size_t len);

#endif
