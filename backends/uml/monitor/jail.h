/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SODA_JAIL_H
#define SODA_JAIL_H

#include <stddef.h>
#include <sys/types.h>

#include "../proto.h"

/*
 * Runs in the monitor's child, as root, right before it execs linux.uml:
 * gives it private mount, IPC, UTS and network namespaces (the last with
 * only lo), a mount tree (a tmpfs on @root) holding only the mounts of the
 * launch spec, its root at SU_JAIL_HOSTFS and its working directory at the
 * tree's top, RLIMIT_FSIZE from the spec (SIGXFSZ ignored: EFBIG instead),
 * then drops to the server's uid and gid with no capabilities, no
 * supplementary groups, no_new_privs, a SIGKILL parent-death signal and
 * personality(ADDR_NO_RANDOMIZE). @ret_ns: the new network and mount
 * namespaces, open (close-on-exec) for the monitor. The seccomp filter
 * comes last, in the monitor, right before exec (seccomp.h).
 * On failure returns -errno and writes what failed to @err.
 */
int su_jail_enter(const su_launch *l, const char *root, int ret_ns[2], char *err,
		  size_t errlen);

/*
 * Once linux.uml runs, takes what only its exec needed (the ELF
 * interpreter) out of its root, the hostfs root (in the jail's mount
 * namespace @mntns): from then on hostfs reaches the shares and /dev/null
 * and nothing else.
 */
int su_jail_after_exec(const su_launch *l, int mntns, char *err, size_t errlen);

#endif
