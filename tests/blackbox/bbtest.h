/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers of the blackbox tests: scratch directories (/tmp/soda-bb-*,
 * removed by teardown), a "line" that collects a writer's frames in memory,
 * raw frame positions in segment files, and finding lookups.
 */
#ifndef SODA_BBTEST_H
#define SODA_BBTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <soda/blackbox.h>

#include "libsoda/blackbox/writer.h"

typedef struct bb_env {
	char dir[64];      /* scratch directory */
	char store[128];   /* <dir>/store */
	soda_blackbox_key *sk; /* the tenant's key (secret) */
	soda_blackbox_key *pk; /* its public part */
	uint8_t box_pk[32];
} bb_env;

void bb_env_setup(bb_env *e);
void bb_env_teardown(bb_env *e);

/* A memory line: frames a writer emits. */
typedef struct bb_line {
	uint8_t *data;
	size_t len, cap;
	int fail; /* > 0: refuse that many frames */
} bb_line;
int bb_line_out(const void *frame, size_t len, void *userdata);
void bb_line_reset(bb_line *l);
sbw_writer *bb_writer(const bb_env *e, bb_line *l, const char *label);

soda_blackbox_store *bb_store(const char *dir, const soda_blackbox_key *pk,
			      const soda_blackbox_store_options *o);
/* Feeds the line's bytes in pieces of @chunk bytes (0: all at once). */
void bb_feed(soda_blackbox_store *s, bb_line *l, size_t chunk);
void bb_close(soda_blackbox_store *s);

soda_blackbox_report *bb_verify(const char *dir);
/* Reads everything; returns the report (caller frees) and the records'
 * bodies concatenated with '\n' after each into *ret_text (optional). */
soda_blackbox_report *bb_read(const char *dir, const soda_blackbox_key *sk, uint64_t types,
			      char **ret_text, size_t *ret_count);

/* Verifies @dir and reads its records of @types (both ways each), asserts
 * that both find it intact and that @want records were read; returns their
 * bodies as bb_read() does (caller frees). @what names it in the dump. */
char *bb_expect_intact(const char *what, const char *dir, const soda_blackbox_key *sk,
		       uint64_t types, size_t want);

/* The first finding of @kind (and @basis unless 0). */
const soda_blackbox_finding *bb_find(const soda_blackbox_report *r, uint32_t kind, uint32_t basis);
/* The first finding of at least @severity. */
const soda_blackbox_finding *bb_first(const soda_blackbox_report *r, uint32_t severity);
void bb_dump(const char *what, const soda_blackbox_report *r);

/* Frames of a segment file, as the bytes say (no checks beyond parsing). */
typedef struct bb_frame {
	uint64_t off, len;
	uint8_t kind;
	uint64_t seq;
	uint32_t epoch;
	uint8_t stream[16];
} bb_frame;
size_t bb_frames(const char *path, bb_frame *out, size_t max);
char *bb_seg_path(const char *store, uint64_t n); /* caller frees */

uint8_t *bb_read_file(const char *path, size_t *ret_len);
void bb_write_file(const char *path, const void *data, size_t len);
/* Replaces bytes [off, off+cut) of a file by @ins (ins_len bytes). */
void bb_splice(const char *path, uint64_t off, uint64_t cut, const void *ins, size_t ins_len);
void bb_copy_tree(const char *from, const char *to);

#endif
