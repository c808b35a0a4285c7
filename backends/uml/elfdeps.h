/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a dynamically linked program needs in a jail: its ELF interpreter and
 * the shared libraries it (and they) name in DT_NEEDED, found where the
 * dynamic loader looks without a cache (DT_RUNPATH/DT_RPATH, then the
 * multiarch and standard directories).
 */
#ifndef SODA_ELFDEPS_H
#define SODA_ELFDEPS_H

#include "../../libsoda/util.h"

/* @ret: NULL-terminated list of "JAILPATH" strings: the path the loader will
 * open (the same path must hold the file in the jail); bind each from the
 * same host path. The program itself is not included. */
int su_elf_deps(const char *program, char ***ret, soda_error **error);

#endif
