/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Record files: the format of every small state file libsoda writes
 * (server configurations, launch specs, run status).
 *
 *   file  := header "\n" { line "\n" }
 *   header:= magic " " version
 *   line  := key " " value          key: [a-z0-9-]+
 *
 * Values are percent-encoded: bytes below 0x21, above 0x7e, and '%' become
 * "%XX", so any byte string (paths with spaces or newlines) round-trips and
 * every line stays one line. Keys may repeat (lists keep their order).
 */
#ifndef SODA_KV_H
#define SODA_KV_H

#include "util.h"

void su_kv_header(su_buf *b, const char *magic, unsigned version);
void su_kv_add(su_buf *b, const char *key, const char *value);
void su_kv_add_u64(su_buf *b, const char *key, uint64_t value);
void su_kv_add_i64(su_buf *b, const char *key, int64_t value);

/* Called for each line; return <0 to stop (that value is returned). */
typedef int (*su_kv_fn)(const char *key, const char *value, uint32_t line, void *userdata);

/* Parses text (need not be NUL-terminated). Checks the header's magic and
 * that its version is at most max_version (the version goes to
 * *ret_version). Errors name @source and the line and column. */
int su_kv_parse(const char *text, size_t len, const char *source, const char *magic,
		unsigned max_version, unsigned *ret_version, su_kv_fn fn, void *userdata,
		soda_error **error);

/* Reads and parses a file. */
int su_kv_parse_file(const char *path, const char *magic, unsigned max_version,
		     unsigned *ret_version, su_kv_fn fn, void *userdata, soda_error **error);

#endif
