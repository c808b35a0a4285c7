/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: protected application-service hosting on one Linux host.
 *
 * Thread model: an object and its context are used by one thread at a time;
 * different contexts run in parallel. The library starts no threads (but
 * the one helper that a blackbox verification, store or reader asks for
 * with its PARALLEL flag), never forks without exec, never prints, and never exits
 * or aborts on bad input or lack of memory. See README "API conventions".
 *
 * This header includes every public header. The headers are always
 * installed; a library built without the network or blackbox module
 * (SODA_SKIP_MODULES) lacks those functions, and a program using them
 * fails to link against it.
 */
#ifndef SODA_SODA_H
#define SODA_SODA_H

#include <soda/common.h>
#include <soda/context.h>
#include <soda/server.h>
#include <soda/image.h>
#include <soda/shares.h>
#include <soda/network.h>
#include <soda/blackbox.h>
#include <soda/ids.h>
#include <soda/exec.h>

#endif
