/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An intruder who is root in the guest's userland goes after the agent's
 * endpoints (/dev/blackbox, /dev/log, /dev/blackbox.ring): removes them,
 * replaces them with a regular file or another FIFO, mounts a tmpfs over
 * /dev or binds a file over the node, changes their mode, takes every ring.
 * Each time the agent seals an event that says what happened (and who, as
 * audit tells), puts the endpoint back, and lines written afterwards arrive
 * in the store; a producer refused a ring is a declared loss.
 *
 * Markers are composed inside the guest (printf 'SODA-BB-%s' X) so that the
 * whole marker never crosses the console.
 */
#include "it_bb_common.h"

/* Runs @cmd in the guest, then waits (5 s at most) until @ready holds there;
 * fails the test if it never does. */
static void act_and_wait(soda_server *srv, const char *cmd, const char *ready)
{
	char *line = NULL;

	assert_int_equal(th_exec(srv, cmd, NULL), 0);
	assert_true(asprintf(&line,
			     "( i=0; until %s; do i=$((i+1)); [ $i -gt 50 ] && exit 1; sleep 0.1; "
			     "done )",
			     ready) > 0);
	if (th_exec(srv, line, NULL) != 0)
		fail_msg("after '%s', '%s' never held", cmd, ready);
	free(line);
}

/* Some line of @all that contains @needle starts with @prefix. */
static bool line_with(const char *all, const char *prefix, const char *needle)
{
	for (const char *p = all; (p = strstr(p, needle)); p++) {
		const char *start = p;

		while (start > all && start[-1] != '\n')
			start--;
		if (strncmp(start, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

static void assert_line(const char *all, const char *prefix, const char *needle)
{
	if (!line_with(all, prefix, needle))
		fail_msg("no '%s' line with '%s'", prefix, needle);
}

#define FIFO_MARK(x) "printf 'SODA-BB-%s\\n' " x " > /dev/blackbox"
#define IS_FIFO "[ -p /dev/blackbox ]"

/* In @all between @from and @to: removal records of @path described one
 * by one, plus the changes counted in "N more changes" records. */
static long removals_in(const char *from, const char *to, const char *path, long *ret_counted)
{
	char said[96], more[96];
	long described = 0, counted = 0;

	snprintf(said, sizeof(said), "guest lifecycle: endpoint %s: removed; ", path);
	snprintf(more, sizeof(more), "guest lifecycle: endpoint %s: ", path);
	for (const char *p = from; p && p < to;) {
		const char *end = strchr(p, '\n');

		if (strncmp(p, said, strlen(said)) == 0)
			described++;
		else if (strncmp(p, more, strlen(more)) == 0 && strstr(p, " more changes in a second"))
			counted += atol(p + strlen(more));
		p = end ? end + 1 : NULL;
	}
	*ret_counted = counted;
	return described;
}

static void test_fifo(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char *dir, *all, *out = NULL;
	long removals, described, counted;
	uint32_t status;

	th_require_root();
	th_build_image(env);
	srv = bb_start_server(env, "bbfifo", NULL, SODA_GUEST_PROFILE_LOCKED);
	dir = bb_store_dir(env, srv);

	/* A writer that opened it before the intruder came. */
	assert_int_equal(th_exec(srv, "exec 7>/dev/blackbox", NULL), 0);
	assert_int_equal(th_exec(srv, FIFO_MARK("F0"), NULL), 0);
	act_and_wait(srv, "rm /dev/blackbox", IS_FIFO);
	assert_int_equal(th_exec(srv, FIFO_MARK("F1"), NULL), 0);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' OLDWRITER >&7", NULL), 0);
	/* An intruder in a loop: every removal is put right and accounted
	 * for, described one by one up to ten a second, counted past that. */
	assert_int_equal(th_exec(srv,
				 "n=0; while [ $n -lt 60 ]; do i=0; until [ -p /dev/blackbox ]; do "
				 "sleep 0.01; i=$((i+1)); [ $i -gt 500 ] && break 2; done; "
				 "rm /dev/blackbox && n=$((n+1)); done; echo \"n=$n\"",
				 &out),
			 0);
	assert_non_null(strstr(out, "n="));
	removals = atol(strstr(out, "n=") + 2);
	free(out);
	act_and_wait(srv, "true", IS_FIFO);
	assert_int_equal(th_exec(srv, FIFO_MARK("F7"), NULL), 0);
	/* A new second: what follows is described again. */
	assert_int_equal(th_exec(srv, "sleep 1.2", NULL), 0);
	/* Replaced by a regular file (a rename: at once, no moment without). */
	act_and_wait(srv, "echo fake > /dev/bbfake && mv /dev/bbfake /dev/blackbox", IS_FIFO);
	assert_int_equal(th_exec(srv, FIFO_MARK("F2"), NULL), 0);
	/* Replaced by a FIFO of the intruder's. */
	act_and_wait(srv,
		     "mkfifo /dev/bbfifo && ino=$(stat -c %i /dev/bbfifo) && "
		     "mv /dev/bbfifo /dev/blackbox",
		     "[ -p /dev/blackbox ] && [ \"$(stat -c %i /dev/blackbox)\" != \"$ino\" ]");
	assert_int_equal(th_exec(srv, FIFO_MARK("F3"), NULL), 0);
	/* A tmpfs over all of /dev. */
	act_and_wait(srv, "mount -t tmpfs soda-it-dev /dev", IS_FIFO);
	assert_int_equal(th_exec(srv, FIFO_MARK("F4"), NULL), 0);
	assert_int_equal(th_exec(srv, "umount -l /dev", NULL), 0);
	/* A file bound over the node. */
	act_and_wait(srv, "echo fake > /tmp/bbx && mount --bind /tmp/bbx /dev/blackbox", IS_FIFO);
	assert_int_equal(th_exec(srv, FIFO_MARK("F5"), NULL), 0);
	/* Nobody but root may write it any more. */
	act_and_wait(srv, "chmod 600 /dev/blackbox", "[ \"$(stat -c %a /dev/blackbox)\" = 622 ]");
	assert_int_equal(th_exec(srv, FIFO_MARK("F6"), NULL), 0);
	assert_int_equal(th_exec(srv, "exec 7>&-", NULL), 0);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	all = bb_read_all(dir, &status);
	assert_int_not_equal(status, SODA_BLACKBOX_DAMAGED);
	for (int i = 0; i <= 7; i++) {
		char mark[32];

		snprintf(mark, sizeof(mark), "guest text: SODA-BB-F%d", i);
		assert_int_equal(bb_count_lines(all, mark), 1);
	}
	assert_int_equal(bb_count_lines(all, "guest text: SODA-BB-OLDWRITER"), 1);
	/* An event each, with who did it as audit saw it. */
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox: removed; by (audit): pid=",
		    "comm=\"rm\"");
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox: replaced by a regular file "
			 "holding 5 bytes (sealed as text after this record); by (audit): pid=",
		    "comm=\"mv\"");
	/* What the impostor held ("fake\n", the intruder's own) is sealed. */
	assert_non_null(strstr(strstr(all, "replaced by a regular file"), "\nguest text: fake\n"));
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox: replaced by another FIFO; ",
		    "made again");
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox: hidden from the tenant by a "
			 "mount of tmpfs (soda-it-dev) on /dev; ",
		    "comm=\"mount\"");
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox: hidden from the tenant by a "
			 "mount of ",
		    " on /dev/blackbox; ");
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox: hidden", "put back in the "
									   "tenant's view");
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox: mode or owner changed (mode 600",
		    "set back to mode 622");
	/* To the end: the count of the loop's last second comes when the
	 * second is over, maybe after F7. No other removal comes later. */
	described = removals_in(strstr(all, "SODA-BB-OLDWRITER"), all + strlen(all),
				"/dev/blackbox", &counted);
	print_message("removals in a loop: %ld, described %ld, counted %ld\n", removals, described,
		      counted);
	assert_int_equal(removals, 60);
	/* Each one, once. */
	assert_int_equal(described + counted, removals);
	/* In order: each event before the line written after it. */
	assert_true(strstr(all, ": removed;") < strstr(all, "SODA-BB-F1"));
	assert_true(strstr(all, "replaced by a regular file") < strstr(all, "SODA-BB-F2"));
	free(all);
	soda_server_unref(srv);
	free(dir);
}

#define LOG_MARK(x) "logger -t soda-it \"$(printf 'SODA-BB-%s' " x ")\""
#define IS_SOCKET "[ -S /dev/log ]"

static void test_syslog(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char *dir, *all;
	uint32_t status;

	th_require_root();
	th_build_image(env);
	srv = bb_start_server(env, "bblog", NULL, SODA_GUEST_PROFILE_LOCKED);
	dir = bb_store_dir(env, srv);

	assert_int_equal(th_exec(srv, LOG_MARK("L0"), NULL), 0);
	act_and_wait(srv, "rm /dev/log", IS_SOCKET);
	assert_int_equal(th_exec(srv, LOG_MARK("L1"), NULL), 0);
	act_and_wait(srv, "echo fake > /dev/logfake && mv /dev/logfake /dev/log", IS_SOCKET);
	assert_int_equal(th_exec(srv, LOG_MARK("L2"), NULL), 0);
	act_and_wait(srv, "mkfifo /dev/logfifo && mv /dev/logfifo /dev/log", IS_SOCKET);
	assert_int_equal(th_exec(srv, LOG_MARK("L3"), NULL), 0);
	act_and_wait(srv, "mount -t tmpfs soda-it-dev /dev", IS_SOCKET);
	assert_int_equal(th_exec(srv, LOG_MARK("L4"), NULL), 0);
	assert_int_equal(th_exec(srv, "umount -l /dev", NULL), 0);
	act_and_wait(srv, "echo fake > /tmp/logx && mount --bind /tmp/logx /dev/log", IS_SOCKET);
	assert_int_equal(th_exec(srv, LOG_MARK("L5"), NULL), 0);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	all = bb_read_all(dir, &status);
	assert_int_not_equal(status, SODA_BLACKBOX_DAMAGED);
	for (int i = 0; i <= 5; i++) {
		char mark[32];

		snprintf(mark, sizeof(mark), "SODA-BB-L%d", i);
		assert_line(all, "guest syslog: ", mark);
	}
	assert_line(all, "guest lifecycle: endpoint /dev/log: removed; by (audit): pid=",
		    "comm=\"rm\"");
	assert_line(all, "guest lifecycle: endpoint /dev/log: replaced by a regular file holding 5 "
			 "bytes",
		    "made again");
	assert_line(all, "guest lifecycle: endpoint /dev/log: replaced by another FIFO; ",
		    "made again");
	assert_line(all, "guest lifecycle: endpoint /dev/log: hidden from the tenant by a mount of "
			 "tmpfs (soda-it-dev) on /dev; ",
		    "put back in the tenant's view");
	assert_line(all, "guest lifecycle: endpoint /dev/log: hidden from the tenant by a mount of ",
		    " on /dev/log; ");
	free(all);
	soda_server_unref(srv);
	free(dir);
}

#define RING_MARK(x) "printf 'SODA-BB-%s\\n' " x " | /soda/init log"

static void test_ring(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char *dir, *all, *out = NULL;
	const char *refused, *loss;
	uint32_t status;

	th_require_root();
	th_build_image(env);
	srv = bb_start_server(env, "bbring", NULL, SODA_GUEST_PROFILE_LOCKED);
	dir = bb_store_dir(env, srv);

	act_and_wait(srv, "rm /dev/blackbox.ring", "[ -S /dev/blackbox.ring ]");
	assert_int_equal(th_exec(srv, RING_MARK("R1"), NULL), 0);
	/* Every ring taken: eight producers that wait on their input. */
	assert_int_equal(th_exec(srv,
				 "for i in 1 2 3 4 5 6 7 8; do (sleep 30 | /soda/init log) & done; "
				 "sleep 1",
				 NULL),
			 0);
	assert_int_not_equal(th_exec(srv, RING_MARK("LOST"), &out), 0);
	assert_non_null(strstr(out, "gave no ring"));
	free(out);
	/* They end; a ring is free again. */
	assert_int_equal(th_exec(srv, "kill $(pidof sleep); wait", NULL), 0);
	assert_int_equal(th_exec(srv,
				 "( i=0; until " RING_MARK("R2") "; do i=$((i+1)); "
				 "[ $i -gt 30 ] && exit 1; sleep 0.1; done )",
				 NULL),
			 0);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	all = bb_read_all(dir, &status);
	assert_int_not_equal(status, SODA_BLACKBOX_DAMAGED);
	assert_int_equal(bb_count_lines(all, "guest text: SODA-BB-R1"), 1);
	assert_int_equal(bb_count_lines(all, "guest text: SODA-BB-R2"), 1);
	assert_line(all, "guest lifecycle: endpoint /dev/blackbox.ring: removed; by (audit): pid=",
		    "comm=\"rm\"");
	/* The refused producer: who, then the declared loss right after. */
	refused = strstr(all, "guest lifecycle: /dev/blackbox.ring: producer pid ");
	assert_non_null(refused);
	assert_non_null(strstr(refused, " uid 0 refused: all rings are taken\n"));
	loss = strstr(refused, "\n") + 1;
	assert_true(strncmp(loss, "guest loss: records=0 bytes=0 reason=2\n", 39) == 0);
	assert_null(strstr(all, "SODA-BB-LOST"));
	free(all);
	soda_server_unref(srv);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fifo, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_syslog, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ring, env_setup, env_teardown),
	};
	int r;

	th_become_subreaper();
	if (bb_setup_tenant() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	soda_blackbox_key_free(tenant);
	return r;
}
