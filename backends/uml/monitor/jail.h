/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SODA_JAIL_H
#define SODA_JAIL_H

#include <stddef.h>

#include "../proto.h"

/*
 * Runs in the monitor's child, as root, right before it execs linux.uml:
 * gives it a private mount namespace whose root (a tmpfs on @root) holds
 * only the mounts of the launch spec, then drops to the server's uid and gid
 * with no capabilities, no supplementary groups, no_new_privs, a SIGKILL
 * parent-death signal and personality(ADDR_NO_RANDOMIZE).
 * On failure returns -errno and writes what failed to @err.
 */
int su_jail_enter(const su_launch *l, const char *root, char *err, size_t errlen);

#endif
