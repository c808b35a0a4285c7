/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest's profile: what root in the tenant's userland may do to the
 * guest kernel (docs/security.md, "Inside the guest").
 *
 * locked (the default): before the tenant's init runs, the agent disables
 * module loading (modules_disabled=1), sets Yama's ptrace_scope to 3 (no
 * attach at all, fixed until reboot), kptr_restrict=2, dmesg_restrict=1,
 * kexec_load_disabled=1, and removes /dev/mem, /dev/kmem and /dev/port. The
 * tenant's init starts without CAP_SYS_MODULE and CAP_SYS_RAWIO in any of
 * its capability sets, bounding set included, so no process of the tenant,
 * root or not, setuid or not, can get them back: opening /dev/mem,
 * /dev/kmem, /dev/port or /proc/kcore needs CAP_SYS_RAWIO, as do iopl and
 * ioperm. A seccomp filter that every tenant process inherits refuses
 * (EPERM) init_module, finit_module, delete_module, kexec_load,
 * kexec_file_load, perf_event_open, bpf, iopl, ioperm, ptrace,
 * process_vm_readv, process_vm_writev, and mknod/mknodat of character and
 * block devices. The agent checks the sysctls root can change back
 * (kptr_restrict, dmesg_restrict) every second, sets them again and
 * records it.
 *
 * open: none of that, for tenants who need modules or debuggers.
 *
 * Either way the tenant's userland runs in PID and mount namespaces of its
 * own (agent.c): the agent has no PID there, so it cannot be signalled,
 * traced or read through process_vm_readv.
 */
#ifndef SODA_AGENT_LOCKDOWN_H
#define SODA_AGENT_LOCKDOWN_H

#include <stddef.h>

enum { PROFILE_LOCKED, PROFILE_OPEN };

/* "locked" or "open" (soda.profile=); -1 for anything else. */
int lockdown_profile_parse(const char *name);
const char *lockdown_profile_name(int profile);

/* In PID 1, before the userland starts: the sysctls and device nodes of
 * @profile. Writes a one-line account of what it did (and what failed)
 * into @what. */
void lockdown_guest(int profile, char *what, size_t len);

/* In the userland's first process, just before it execs the tenant's init:
 * capabilities and the seccomp filter. Returns 0 or -errno. */
int lockdown_userland(int profile);

/* Periodic: puts back the sysctls root may change; returns how many it put
 * back, with an account in @what. */
int lockdown_check(int profile, char *what, size_t len);

#endif
