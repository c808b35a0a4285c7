/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the store readers. The input becomes a store's files: its
 * first segment, then, after a line "--file--", the head file, then after
 * another the store's identity file; the keyless verifier and the tenant's
 * reader (with the key the seeds are sealed to) must read them, report what
 * is wrong, and never crash; the reader on two threads must hand out as
 * many records and reach the same verdict as the serial one.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <soda/blackbox.h>

#include "fuzzdir.h"
#include "fuzzkey.h"

static void put(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "seg-0000000001.sbx", "head", "store" };
	static const char sep[] = "\n--file--\n";
	static soda_blackbox_key *key;
	soda_blackbox_report *rep = NULL;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	char dir[64];

	if (!key && soda_blackbox_key_parse(&key, bb_fuzz_key, strlen(bb_fuzz_key), "fuzzkey", 0,
					    NULL) < 0)
		abort();
	snprintf(dir, sizeof(dir), "/tmp/soda-fuzz-bbstore-%d", (int)getpid());
	if (mkdir(dir, 0700) < 0)
		abort();
	for (size_t i = 0; i < 3 && data; i++) {
		const uint8_t *end = memmem(data, size, sep, sizeof(sep) - 1);
		size_t len = end ? (size_t)(end - data) : size;

		put(dir, names[i], data, len);
		if (!end)
			break;
		size -= len + sizeof(sep) - 1;
		data = end + sizeof(sep) - 1;
	}
	if (soda_blackbox_verify(&rep, dir, NULL, 0, NULL) == 0)
		soda_blackbox_report_free(rep);
	/* Serially and on two threads: the same records, the same verdict. */
	{
		uint64_t records[2] = { 0, 0 };
		int status[2] = { -1, -1 };

		for (int k = 0; k < 2; k++) {
			if (soda_blackbox_reader_open(&rd, dir, key, NULL,
						      k ? SODA_BLACKBOX_READ_PARALLEL : 0, NULL) < 0)
				continue;
			for (int i = 0; i < 100000 && soda_blackbox_reader_next(rd, &rec, 0, NULL) == 1;
			     i++) {
				char *json = NULL;

				records[k]++;
				if (k == 0 && soda_blackbox_record_to_json(&json, rec, 0, NULL) == 0)
					soda_free(json);
			}
			status[k] = (int)soda_blackbox_report_get_status(soda_blackbox_reader_get_report(rd));
			soda_blackbox_reader_close(rd);
		}
		if (records[0] != records[1] || status[0] != status[1])
			abort();
	}
	bb_fuzz_rmdir(dir);
	return 0;
}
