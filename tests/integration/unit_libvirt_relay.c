/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-bbrelay and the libvirt backend's side of it (backends/libvirt/
 * relay.c), without QEMU: the test holds the line's FIFO read-write, as
 * QEMU's pipe chardev does, and writes a stream sealed to a tenant key.
 *
 *   - test_early_bytes: a stream written before the relay runs is stored
 *     whole (the pipe keeps it) and read back with the key;
 *   - test_flood_without_relay: with no relay, a writer gets no more than
 *     the pipe's capacity out of the guest and no file grows; the control:
 *     with the relay, the same writer's 8 MiB of garbage pass, counted
 *     and declared by the store;
 *   - test_end_by_pid: lv_relay_start() leaves a running relay and its
 *     pid file; the writer never closes (a QEMU that did not end), and
 *     lv_relay_end() ends the relay by its PID, with the stream in the
 *     store; a pid file whose start time is not its PID's (here: this
 *     test's PID) is not acted on; the control: the right start time ends
 *     the process named;
 *   - test_start_errors: a store that cannot be made, a relay that exits
 *     without running: lv_relay_start() fails with a message saying so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soda/soda.h>

#include "backends/libvirt/lv.h"
#include "backends/libvirt/pidrec.h"
#include "it_bb_common.h"

#define MARKER "SODA-UBBR-MARKER"

extern char **environ;

static char tmp[64], name[32];

static int write_all(int fd, const void *data, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { fd, POLLOUT, 0 };

			poll(&p, 1, 1000);
			continue;
		}
		if (n <= 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

static int out_fd(const void *frame, size_t len, void *userdata)
{
	return write_all(*(int *)userdata, frame, len);
}

static soda_blackbox_writer *stream_start(int *fd)
{
	soda_blackbox_writer *w = NULL;
	soda_error *err = NULL;

	assert_soda_ok(soda_blackbox_writer_new(&w, tenant, NULL, out_fd, fd, NULL, 0, &err), err);
	return w;
}

static void stream_text(soda_blackbox_writer *w, const char *text)
{
	soda_error *err = NULL;

	assert_soda_ok(soda_blackbox_writer_append(w, SODA_BLACKBOX_TEXT, 0, text, strlen(text), 0, 0,
						   0, &err),
		       err);
}

static void stream_end(soda_blackbox_writer *w)
{
	soda_error *err = NULL;

	assert_soda_ok(soda_blackbox_writer_end(w, 0, 0, &err), err);
	soda_blackbox_writer_free(w);
}

static bool has_kind(const soda_blackbox_report *rep, uint32_t kind)
{
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++)
		if (soda_blackbox_finding_get_kind(soda_blackbox_report_get_finding(rep, i)) == kind)
			return true;
	return false;
}

/* soda-bbrelay on @line into @store, as the backend runs it; its PID. */
static pid_t run_relay(const char *line, const char *store)
{
	char pid_file[128], *argv[] = { (char *)SODA_TEST_BBRELAY, "--line", (char *)line,
					"--store", (char *)store, "--key", NULL, "--pid-file",
					pid_file, NULL };
	char hex[65], text[64] = "";
	uint8_t box[32];
	pid_t pid;
	int status = -1, relay = 0;
	FILE *f;

	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", box[i]);
	argv[6] = hex;
	snprintf(pid_file, sizeof(pid_file), "%s/relay.pid", tmp);
	assert_int_equal(posix_spawn(&pid, SODA_TEST_BBRELAY, NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f = fopen(pid_file, "re");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	relay = atoi(text);
	assert_true(relay > 1);
	return relay;
}

static void wait_gone(pid_t pid)
{
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
		usleep(10 * 1000);
	assert_int_not_equal(kill(pid, 0), 0);
}

static void test_early_bytes(void **state)
{
	char line[128], store[128];
	soda_blackbox_writer *w;
	uint32_t status = 99;
	pid_t relay;
	int fd;

	(void)state;
	snprintf(line, sizeof(line), "%s/early.fifo", tmp);
	snprintf(store, sizeof(store), "%s/early-store", tmp);
	assert_int_equal(mkfifo(line, 0600), 0);
	/* As QEMU: read-write, so nothing blocks and nothing is lost. */
	fd = open(line, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	w = stream_start(&fd);
	stream_text(w, MARKER "-BEFORE");
	relay = run_relay(line, store);
	stream_text(w, MARKER "-AFTER");
	stream_end(w);
	close(fd);
	wait_gone(relay); /* the line closed: the relay ends by itself */
	assert_int_equal(bb_count_text(store, MARKER "-BEFORE", &status), 1);
	assert_int_equal(bb_count_text(store, MARKER "-AFTER", &status), 1);
	assert_int_equal(status, SODA_BLACKBOX_INTACT);
}

static void test_flood_without_relay(void **state)
{
	static char junk[64 * 1024];
	char line[128], store[128];
	soda_blackbox_report *rep = NULL;
	soda_error *err = NULL;
	size_t total = 0;
	struct stat st;
	pid_t relay;
	int fd;

	(void)state;
	memset(junk, 'G', sizeof(junk));
	snprintf(line, sizeof(line), "%s/flood.fifo", tmp);
	snprintf(store, sizeof(store), "%s/flood-store", tmp);
	assert_int_equal(mkfifo(line, 0600), 0);
	fd = open(line, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	/* No relay: the pipe fills and the writer is refused. */
	for (;;) {
		ssize_t n = write(fd, junk, sizeof(junk));

		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
		total += (size_t)n;
		assert_true(total <= (1u << 20));
	}
	print_message("without a relay: %zu bytes taken, then EAGAIN\n", total);
	assert_int_equal(stat(line, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_not_equal(access(store, F_OK), 0);

	/* The control: with the relay the same writer gets 8 MiB through. */
	relay = run_relay(line, store);
	for (size_t i = 0; i < 128; i++)
		assert_int_equal(write_all(fd, junk, sizeof(junk)), 0);
	close(fd);
	wait_gone(relay);
	assert_soda_ok(soda_blackbox_verify(&rep, store, NULL, 0, &err), err);
	assert_true(has_kind(rep, SODA_BLACKBOX_F_DECLARED_LOSS));
	assert_int_not_equal(soda_blackbox_report_get_status(rep), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(rep);
}

static void write_pid_file(const char *path, pid_t pid, unsigned long long start)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fprintf(f, "%d %llu\n", (int)pid, start);
	assert_int_equal(fclose(f), 0);
}

static void test_end_by_pid(void **state)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;
	char store[128], line[128], pid_file[128], text[64] = "";
	char *argv[] = { "/bin/sleep", "30", NULL };
	soda_blackbox_writer *w;
	uint8_t box[32];
	uint32_t status = 99;
	pid_t relay, child;
	int fd, wst = 0;
	FILE *f;

	(void)state;
	snprintf(store, sizeof(store), "%s/blackbox/%s", tmp, name);
	snprintf(line, sizeof(line), LV_RUN_DIR "/%s/blackbox.out", name);
	snprintf(pid_file, sizeof(pid_file), LV_RUN_DIR "/%s/bbrelay.pid", name);
	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_new(&cfg, name, &err), err);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, &err), err);
	assert_soda_ok(lv_relay_start(name, store, cfg, &err), err);
	f = fopen(pid_file, "re");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	relay = atoi(text);
	assert_true(relay > 1);
	assert_int_equal(kill(relay, 0), 0);

	/* A QEMU that never closes the line: the relay is ended by its PID,
	 * and what was written before is stored. */
	fd = open(line, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	w = stream_start(&fd);
	stream_text(w, MARKER "-RUNNING");
	soda_blackbox_writer_free(w);
	assert_int_equal(lv_relay_end(name, 200), 0);
	wait_gone(relay); /* (reaped by whoever adopted it) */
	assert_int_not_equal(access(pid_file, F_OK), 0);
	close(fd);
	assert_int_equal(bb_count_text(store, MARKER "-RUNNING", &status), 1);
	assert_int_not_equal(status, SODA_BLACKBOX_DAMAGED);
	assert_int_equal(lv_relay_end(name, 0), 0); /* none left: nothing to do */

	/* A pid file naming this test with another start time: left alone
	 * (were it signalled, this test would die here). */
	write_pid_file(pid_file, getpid(), lv_start_time(getpid()) + 1);
	assert_int_equal(lv_relay_end(name, 0), 0);
	assert_int_not_equal(access(pid_file, F_OK), 0);
	/* The control: the right start time ends the process it names. */
	assert_int_equal(posix_spawn(&child, argv[0], NULL, NULL, argv, environ), 0);
	for (int i = 0; i < 100 && lv_start_time(child) == 0; i++)
		usleep(10 * 1000);
	write_pid_file(pid_file, child, lv_start_time(child));
	assert_int_equal(lv_relay_end(name, 100), 0);
	assert_int_equal(waitpid(child, &wst, 0), child);
	assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGTERM);
	soda_server_config_free(cfg);
}

static void test_start_errors(void **state)
{
	soda_server_config *cfg = NULL;
	soda_error *err = NULL;
	char store[200], file[128];
	uint8_t box[32];
	int fd;

	(void)state;
	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_new(&cfg, name, &err), err);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, &err), err);
	/* The store's parent is a file. */
	snprintf(file, sizeof(file), "%s/a-file", tmp);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(store, sizeof(store), "%s/store", file);
	assert_int_equal(lv_relay_start(name, store, cfg, &err), -EIO);
	print_message("%s\n", soda_error_message(err));
	assert_non_null(strstr(soda_error_message(err), "blackbox store"));
	soda_error_free(err);
	err = NULL;
	/* A relay that exits at once, successfully, without running. */
	setenv("SODA_BBRELAY", "/bin/true", 1);
	snprintf(store, sizeof(store), "%s/blackbox/%s", tmp, name);
	assert_int_equal(lv_relay_start(name, store, cfg, &err), -EIO);
	print_message("%s\n", soda_error_message(err));
	assert_non_null(strstr(soda_error_message(err), "without running"));
	soda_error_free(err);
	setenv("SODA_BBRELAY", SODA_TEST_BBRELAY, 1);
	soda_server_config_free(cfg);
}

static int setup(void **state)
{
	char run[128];

	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/soda-ubbr-XXXXXX");
	snprintf(name, sizeof(name), "ubbr%d", (int)getpid());
	snprintf(run, sizeof(run), LV_RUN_DIR "/%s", name);
	if (!mkdtemp(tmp) || soda_blackbox_key_generate(&tenant, SODA_BLACKBOX_KEY_TENANT, 0, NULL) < 0)
		return -1;
	mkdir(LV_RUN_DIR, 0700);
	if (mkdir(run, 0700) < 0)
		return -1;
	setenv("SODA_BBRELAY", SODA_TEST_BBRELAY, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (!name[0])
		return 0;
	lv_relay_end(name, 0);
	lv_boot_forget(name);
	th_sh("rm -rf '%s'", tmp);
	soda_blackbox_key_free(tenant);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_early_bytes),
		cmocka_unit_test(test_flood_without_relay),
		cmocka_unit_test(test_end_by_pid),
		cmocka_unit_test(test_start_errors),
	};

	if (geteuid() != 0) {
		printf("SKIP: needs root (" LV_RUN_DIR ")\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
