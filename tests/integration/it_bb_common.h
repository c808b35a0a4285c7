/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the tests of an intruder in a guest with a blackbox
 * (it_bb_intruder.c, it_guest_lockdown.c): the tenant's key, a server
 * with a blackbox, and its records read back. */
#ifndef SODA_IT_BB_COMMON_H
#define SODA_IT_BB_COMMON_H

#include "it_common.h"

#include <soda/blackbox.h>

static soda_blackbox_key *tenant; /* the test plays the tenant */

/* @tools (or NULL): a host directory the guest sees at /tools; @memory:
 * the guest's, bytes. */
static __attribute__((unused)) soda_server *bb_start_server_mem(th_env *env, const char *name,
								const char *tools,
								uint32_t profile,
								uint64_t memory)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	uint8_t box[32];

	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_new(&cfg, name, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_memory(cfg, memory, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_guest_profile(cfg, profile, &env->err), env->err);
	if (tools)
		assert_soda_ok(soda_server_config_add_share(cfg, tools, "/tools", SODA_SHARE_READONLY,
							    &env->err),
			       env->err);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

/* bb_start_server_mem() with 48 MiB. */
static __attribute__((unused)) soda_server *bb_start_server(th_env *env, const char *name,
							    const char *tools, uint32_t profile)
{
	return bb_start_server_mem(env, name, tools, profile, 48 << 20);
}

/* How many TEXT records of the store in @dir are exactly @text, read with
 * the tenant's key; the store's status in *@status when given. */
static __attribute__((unused)) long bb_count_text(const char *dir, const char *text,
						  uint32_t *status)
{
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *err = NULL;
	long count = 0;
	int r;

	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &err), err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &err)) == 1) {
		size_t n;
		const void *body = soda_blackbox_record_get_data(rec, &n);

		if (soda_blackbox_record_get_type(rec) == SODA_BLACKBOX_TEXT &&
		    n == strlen(text) && memcmp(body, text, n) == 0)
			count++;
	}
	assert_soda_ok(r, err);
	if (status)
		*status = soda_blackbox_report_get_status(soda_blackbox_reader_get_report(rd));
	soda_blackbox_reader_close(rd);
	return count;
}

static __attribute__((unused)) char *bb_store_dir(th_env *env, soda_server *srv)
{
	char *dir = NULL;

	assert_soda_ok(soda_server_get_blackbox_dir(&dir, srv, &env->err), env->err);
	return dir;
}

static __attribute__((unused)) void bb_print_findings(const soda_blackbox_report *rep)
{
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++) {
		const soda_blackbox_finding *f = soda_blackbox_report_get_finding(rep, i);

		print_message("finding: %s: %s\n",
			      soda_blackbox_finding_kind_name(soda_blackbox_finding_get_kind(f)),
			      soda_blackbox_finding_get_message(f));
	}
}

/* Every record of the store, decrypted, as "origin type: body" lines (a
 * LOSS record's body as "records=R bytes=B reason=N"); the report's
 * status in *@ret_status. */
static __attribute__((unused)) char *bb_read_all(const char *dir, uint32_t *ret_status)
{
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *err = NULL;
	char *all = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&all, &len);
	int r;

	assert_non_null(f);
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &err), err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &err)) == 1) {
		size_t n;
		const uint8_t *body = soda_blackbox_record_get_data(rec, &n);
		uint32_t type = soda_blackbox_record_get_type(rec);

		fprintf(f, "%s %s: ", soda_blackbox_record_get_origin(rec),
			soda_blackbox_type_name(type));
		if (type == SODA_BLACKBOX_LOSS && n == 24) {
			uint64_t rc = 0, by = 0;
			uint32_t why = 0;

			for (int i = 7; i >= 0; i--) {
				rc = rc << 8 | body[i];
				by = by << 8 | body[8 + i];
			}
			for (int i = 3; i >= 0; i--)
				why = why << 8 | body[16 + i];
			fprintf(f, "records=%llu bytes=%llu reason=%u", (unsigned long long)rc,
				(unsigned long long)by, why);
		} else {
			for (size_t i = 0; i < n; i++)
				fputc(body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '.', f);
		}
		fputc('\n', f);
	}
	assert_soda_ok(r, err);
	fclose(f);
	*ret_status = soda_blackbox_report_get_status(soda_blackbox_reader_get_report(rd));
	if (*ret_status == SODA_BLACKBOX_DAMAGED)
		bb_print_findings(soda_blackbox_reader_get_report(rd));
	soda_blackbox_reader_close(rd);
	/* SODA_TEST_RECORDS=FILE: the records go there too (appended). */
	if (getenv("SODA_TEST_RECORDS")) {
		FILE *out = fopen(getenv("SODA_TEST_RECORDS"), "ae");

		if (out) {
			fputs(all, out);
			fclose(out);
		}
	}
	return all;
}

/* How many lines of @all are exactly @line. */
static __attribute__((unused)) long bb_count_lines(const char *all, const char *line)
{
	size_t n = strlen(line);
	long count = 0;

	for (const char *p = all; (p = strstr(p, line)); p += n)
		if ((p == all || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			count++;
	return count;
}

static __attribute__((unused)) int bb_setup_tenant(void)
{
	return soda_blackbox_key_generate(&tenant, SODA_BLACKBOX_KEY_TENANT, 0, NULL);
}

#endif
