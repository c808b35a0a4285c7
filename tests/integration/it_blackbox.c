/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The blackbox end to end with real UML guests: records written inside the
 * guest reach the host store through the write-only serial line and
 * decrypt with the tenant's key; they keep coming after an intruder in the
 * guest kills what it can and deletes the guest's logs; the host (store
 * files, monitor memory) never holds the plaintext; SIGKILL of the monitor
 * mid-write loses at most the unflushed group and is reported; lines come
 * through /dev/blackbox.ring too, and a hostile producer of it is refused.
 *
 * Markers are composed inside the guest (printf 'SODA-BB-%s' X) so that the
 * whole marker never crosses the console, which the host legitimately sees.
 */
#include "it_bb_common.h"

#include <fcntl.h>
#include <sys/wait.h>

#include <soda/blackbox.h>


/* @tools (or NULL): a host directory the guest sees at /tools. */
static soda_server *start_bb_server_with(th_env *env, const char *name, const char *tools)
{
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	uint8_t box[32];

	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_new(&cfg, name, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 48 << 20, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, &env->err), env->err);
	if (tools)
		assert_soda_ok(soda_server_config_add_share(cfg, tools, "/tools", SODA_SHARE_READONLY,
							    &env->err),
			       env->err);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

static soda_server *start_bb_server(th_env *env, const char *name)
{
	return start_bb_server_with(env, name, NULL);
}

static char *store_dir(th_env *env, soda_server *srv)
{
	char *dir = NULL;

	assert_soda_ok(soda_server_get_blackbox_dir(&dir, srv, &env->err), env->err);
	return dir;
}

/* Every record of the store, decrypted, as "origin type: body" lines. */
static char *read_all(const char *dir, const soda_blackbox_report **ret_report,
		      soda_blackbox_reader **ret_reader)
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

		fprintf(f, "%s %s: ", soda_blackbox_record_get_origin(rec),
			soda_blackbox_type_name(soda_blackbox_record_get_type(rec)));
		for (size_t i = 0; i < n; i++)
			fputc(body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '.', f);
		fputc('\n', f);
	}
	assert_soda_ok(r, err);
	fclose(f);
	*ret_report = soda_blackbox_reader_get_report(rd);
	*ret_reader = rd;
	return all;
}

/* How many frames the TEXT records whose body starts with @prefix came in
 * (records of one frame share its sequence number). */
static int frames_of(const char *dir, const char *prefix)
{
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *err = NULL;
	uint64_t last = UINT64_MAX;
	int frames = 0, r;

	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &err), err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &err)) == 1) {
		size_t n;
		const uint8_t *body = soda_blackbox_record_get_data(rec, &n);

		if (soda_blackbox_record_get_type(rec) != SODA_BLACKBOX_TEXT || n < strlen(prefix) ||
		    memcmp(body, prefix, strlen(prefix)) != 0)
			continue;
		if (soda_blackbox_record_get_seq(rec) != last)
			frames++;
		last = soda_blackbox_record_get_seq(rec);
	}
	assert_soda_ok(r, err);
	soda_blackbox_reader_close(rd);
	return frames;
}

static void print_findings(const soda_blackbox_report *rep)
{
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++) {
		const soda_blackbox_finding *f = soda_blackbox_report_get_finding(rep, i);

		print_message("finding: %s: %s\n",
			      soda_blackbox_finding_kind_name(soda_blackbox_finding_get_kind(f)),
			      soda_blackbox_finding_get_message(f));
	}
}

static bool has_finding(const soda_blackbox_report *rep, uint32_t kind)
{
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++)
		if (soda_blackbox_finding_get_kind(soda_blackbox_report_get_finding(rep, i)) == kind)
			return true;
	return false;
}

/* Does @needle occur in any file under @dir (the host's copy of the store)? */
static bool found_in_files(const char *dir, const char *needle)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "grep -rqaF -- '%s' '%s'", needle, dir);
	return th_sh("%s", cmd) == 0;
}

/* Does @needle occur anywhere in the readable memory of process @pid?
 * Reads every readable mapping up to 1 GiB (what a sanitizer build reserves
 * beyond that is shadow and allocator space; reading it through /proc would
 * make page tables for terabytes). */
static bool found_in_memory(int pid, const char *needle)
{
	char path[64], line[512];
	size_t nlen = strlen(needle);
	uint64_t scanned = 0;
	bool found = false;
	FILE *maps;
	int mem;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	assert_non_null(maps);
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    hi - lo > (1ul << 30))
			continue;
		for (unsigned long at = lo; at < hi && !found;) {
			char buf[1 << 16];
			size_t want = hi - at < sizeof(buf) ? hi - at : sizeof(buf);
			ssize_t n = pread(mem, buf, want, (off_t)at);

			if (n <= 0)
				break;
			scanned += (uint64_t)n;
			found = memmem(buf, (size_t)n, needle, nlen) != NULL;
			/* Overlap so that a needle across two reads is found. */
			at += (size_t)n > nlen ? (size_t)n - nlen : (size_t)n;
		}
	}
	close(mem);
	fclose(maps);
	/* Not a vacuous scan: the monitor's heap, stack and data were read. */
	assert_true(found || scanned > (256u << 10));
	return found;
}

static void test_end_to_end_and_intruder(void **state)
{
	th_env *env = *state;
	const soda_blackbox_report *rep;
	soda_blackbox_reader *rd;
	soda_blackbox_report *vrep = NULL;
	soda_server_info *info = NULL;
	soda_server *srv;
	char *dir, *all, *out = NULL;
	int mpid;

	th_require_root();
	th_build_image(env);
	srv = start_bb_server(env, "bbtenant");
	dir = store_dir(env, srv);

	/* The tenant's application logs through the channel device. */
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' BEFORE > /dev/blackbox", NULL), 0);
	assert_int_equal(th_exec(srv, "mkdir -p /var/log && echo app-log > /var/log/app.log", NULL),
			 0);
	/* The intruder: kills every process it may, wipes the guest's logs. */
	th_exec(srv, "kill -9 -1 2>/dev/null; rm -rf /var/log; echo wiped", &out);
	assert_non_null(strstr(out, "wiped"));
	free(out);
	/* ...and the log keeps coming. */
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' AFTER > /dev/blackbox", NULL), 0);
	/* Lines that arrive in one write are sealed as one record, and read
	 * back one record per line (an empty one too). dd makes it one write:
	 * the shell's printf may write line by line. */
	assert_int_equal(th_exec(srv,
				 "printf 'SODA-BB-L1\\nSODA-BB-L2\\n\\nSODA-BB-L4\\n' > /tmp/bbl && "
				 "dd if=/tmp/bbl of=/dev/blackbox bs=4k 2>/dev/null",
				 NULL),
			 0);
	/* A program started by path is exec'ed (busybox runs its applets by
	 * name without exec). */
	assert_int_equal(th_exec(srv, "/bin/busybox ls /var/log 2>/dev/null; true", NULL), 0);

	/* Privacy: the host holds ciphertext only. */
	assert_soda_ok(soda_server_get_info(&info, srv, 0, &env->err), env->err);
	mpid = soda_server_info_get_monitor_pid(info);
	soda_server_info_free(info);
	usleep(200 * 1000); /* one group commit */
	/* The probe finds what is there: the server's name and its store. */
	assert_true(found_in_memory(mpid, "bbtenant"));
	assert_true(found_in_memory(mpid, dir));
	assert_false(found_in_memory(mpid, "SODA-BB-BEFORE"));
	assert_false(found_in_memory(mpid, "SODA-BB-AFTER"));
	assert_false(found_in_files(dir, "SODA-BB-BEFORE"));
	assert_false(found_in_files(dir, "SODA-BB-AFTER"));
	/* The probe itself can find what is there: the console log has the
	 * command the guest echoed (the console is the host's to see). */
	{
		char *clog = state_path(env, "servers", "bbtenant/console.log");

		assert_true(found_in_files(clog, "wiped"));
		free(clog);
	}

	/* A forensic dump is written down in the tenant's blackbox too. */
	{
		char *dump = state_path(env, "dumps", "bbtenant");
		char *parent = state_path(env, "dumps", "");

		assert_int_equal(mkdir(parent, 0700), 0);
		assert_soda_ok(soda_server_dump(srv, dump, 0, &env->err), env->err);
		free(parent);
		free(dump);
	}
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	/* The tenant reads it all back. */
	all = read_all(dir, &rep, &rd);
	if (getenv("SODA_TEST_VERBOSE")) {
		FILE *f = fopen("it-blackbox-records.txt", "we");

		if (f) {
			fputs(all, f);
			fclose(f);
		}
		th_sh("cat %s/servers/bbtenant/monitor.log %s/servers/bbtenant/console.log > it-blackbox-logs.txt", env->state_dir, env->state_dir);
	}
	assert_non_null(strstr(all, "guest text: SODA-BB-BEFORE"));
	assert_non_null(strstr(all, "guest text: SODA-BB-AFTER"));
	assert_true(strstr(all, "SODA-BB-BEFORE") < strstr(all, "SODA-BB-AFTER"));
	assert_non_null(strstr(all, "guest text: SODA-BB-L1\nguest text: SODA-BB-L2\n"
				    "guest text: \nguest text: SODA-BB-L4\n"));
	assert_int_equal(frames_of(dir, "SODA-BB-L"), 1);
	/* exec events outlive the intruder too: the ls after the wipe. */
	assert_non_null(strstr(strstr(all, "SODA-BB-AFTER"), "guest exec: /bin/busybox ls /var/log"));
	/* The host's own lifecycle records, sealed to the same key. */
	assert_non_null(strstr(all, "host lifecycle: running"));
	assert_non_null(strstr(all, "host lifecycle: shutoff"));
	assert_non_null(strstr(all, "host snapshot: forensic dump (disk, frozen"));
	assert_non_null(strstr(all, "host lifecycle: paused: frozen"));
	if (soda_blackbox_report_get_status(rep) != SODA_BLACKBOX_INTACT)
		print_findings(rep);
	assert_int_equal(soda_blackbox_report_get_status(rep), SODA_BLACKBOX_INTACT);
	soda_blackbox_reader_close(rd);
	free(all);

	/* The landlord proves the same without any key. */
	assert_soda_ok(soda_blackbox_verify(&vrep, dir, NULL, 0, &env->err), env->err);
	if (soda_blackbox_report_get_status(vrep) != SODA_BLACKBOX_INTACT)
		print_findings(vrep);
	assert_int_equal(soda_blackbox_report_get_status(vrep), SODA_BLACKBOX_INTACT);
	assert_true(soda_blackbox_report_get_counter(vrep, SODA_BLACKBOX_REPORT_FRAMES) > 5);
	soda_blackbox_report_free(vrep);

	/* The same through the command line: the tenant's read and asciicast
	 * export, the landlord's verify, each with its exit code. */
	{
		char keyfile[128], cast[128];
		char *const verify[] = { SODA_TEST_BLACKBOX_CLI, "verify", dir, NULL };
		char *const readv[] = { SODA_TEST_BLACKBOX_CLI, "read", "--key", keyfile,
					"--type", "text", dir, NULL };
		char *const badkey[] = { SODA_TEST_BLACKBOX_CLI, "read", "--key", "/nonexistent",
					 dir, NULL };
		char *const exportv[] = { SODA_TEST_BLACKBOX_CLI, "export", "--key", keyfile,
					  "--format", "asciicast", "--output", cast, dir, NULL };

		snprintf(keyfile, sizeof(keyfile), "%s/tenant.key", env->state_dir);
		snprintf(cast, sizeof(cast), "%s/session.cast", env->state_dir);
		assert_soda_ok(soda_blackbox_key_save_secret(tenant, keyfile, 0, &env->err), env->err);
		out = NULL;
		assert_int_equal(th_run(verify, &out), 0);
		assert_non_null(strstr(out, ": intact:"));
		free(out);
		assert_int_equal(th_run(readv, &out), 0);
		assert_non_null(strstr(out, "guest text         0      SODA-BB-AFTER"));
		assert_null(strstr(out, "guest exec"));
		free(out);
		assert_int_equal(th_run(badkey, &out), 3);
		assert_non_null(strstr(out, "/nonexistent"));
		free(out);
		assert_int_equal(th_run(exportv, &out), 0);
		free(out);
		out = th_read_file(cast);
		assert_non_null(out);
		assert_true(strncmp(out, "{\"version\": 2, ", 15) == 0);
		assert_non_null(strstr(out, ", \"o\", "));
		free(out);
	}

	/* The store outlives the server's definition. */
	assert_soda_ok(soda_server_undefine(srv, 0, &env->err), env->err);
	assert_true(path_exists(dir));
	soda_server_unref(srv);
	free(dir);
}

/* The numbers of "SODA-BB-SEQ-N" records, in order; checks they are
 * consecutive from 1. Returns the last. */
static long check_sequence(const char *all)
{
	long last = 0;

	for (const char *p = all; (p = strstr(p, "guest text: SODA-BB-SEQ-")); p++) {
		long n = strtol(p + 24, NULL, 10);

		if (n != last + 1)
			fail_msg("record SODA-BB-SEQ-%ld follows %ld", n, last);
		last = n;
	}
	return last;
}

static void test_monitor_killed_mid_write(void **state)
{
	th_env *env = *state;
	const soda_blackbox_report *rep;
	soda_blackbox_reader *rd;
	soda_blackbox_report *vrep = NULL;
	soda_server_info *info = NULL;
	soda_server *srv;
	char *dir, *all;
	long before, after;
	int mpid;

	th_require_root();
	th_build_image(env);
	srv = start_bb_server(env, "bbcrash");
	dir = store_dir(env, srv);
	/* A steady writer in the guest. */
	assert_int_equal(th_exec(srv,
				 "(i=0; while [ $i -lt 100000 ]; do i=$((i+1)); "
				 "printf 'SODA-BB-SEQ-%d\\n' $i; done > /dev/blackbox) "
				 "</dev/null >/dev/null 2>&1 &",
				 NULL),
			 0);
	usleep(1500 * 1000);
	assert_soda_ok(soda_server_get_info(&info, srv, 0, &env->err), env->err);
	mpid = soda_server_info_get_monitor_pid(info);
	soda_server_info_free(info);
	assert_int_equal(kill(mpid, SIGKILL), 0);
	/* Gone for good (its files closed) before anyone looks at the store;
	 * the monitor is our child, as we are the subreaper. */
	if (waitpid(mpid, NULL, 0) < 0)
		for (int i = 0; i < 500 && th_pid_alive(mpid); i++)
			usleep(10 * 1000);
	assert_false(th_pid_alive(mpid));
	th_reap();
	assert_soda_ok(soda_context_recover(env->ctx, 0, &env->err), env->err);

	/* Keyless: what was committed verifies; the cut is reported, not
	 * taken for tampering. */
	assert_soda_ok(soda_blackbox_verify(&vrep, dir, NULL, 0, &env->err), env->err);
	print_findings(vrep);
	assert_int_equal(soda_blackbox_report_get_status(vrep), SODA_BLACKBOX_INCOMPLETE);
	assert_true(has_finding(vrep, SODA_BLACKBOX_F_NO_END) ||
		    has_finding(vrep, SODA_BLACKBOX_F_TRUNCATED) ||
		    has_finding(vrep, SODA_BLACKBOX_F_TORN_TAIL));
	soda_blackbox_report_free(vrep);
	all = read_all(dir, &rep, &rd);
	before = check_sequence(all);
	print_message("records stored before the kill: %ld\n", before);
	assert_true(before > 100);
	assert_int_not_equal(soda_blackbox_report_get_status(rep), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_reader_close(rd);
	free(all);

	/* The next start recovers the store and goes on in it. */
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' RESTARTED > /dev/blackbox", NULL), 0);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
	all = read_all(dir, &rep, &rd);
	after = check_sequence(all);
	assert_true(after >= before);
	assert_non_null(strstr(all, "SODA-BB-RESTARTED"));
	print_findings(rep);
	assert_int_not_equal(soda_blackbox_report_get_status(rep), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_reader_close(rd);
	free(all);
	soda_server_unref(srv);
	free(dir);
}

/* An idle guest's stream keeps beating (so that a reader can tell a live
 * stream cut short from a quiet one), with the time of each beat: the
 * agent reads the clocks once per pass of its loop, and a pass after an
 * idle wait must not stamp the time of the one before. */
static void test_idle_heartbeats(void **state)
{
	th_env *env = *state;
	soda_blackbox_reader_options ro = SODA_BLACKBOX_READER_OPTIONS_INIT;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	uint64_t text_at = 0, beats = 0, last_beat = 0;
	soda_server *srv;
	char *dir;
	int r;

	th_require_root();
	th_build_image(env);
	srv = start_bb_server(env, "bbidle");
	dir = store_dir(env, srv);
	assert_int_equal(th_exec(srv, "echo SODA-BB-IDLE > /dev/blackbox", NULL), 0);
	sleep(12); /* heartbeats every 5 s */
	ro.types = 1ull << SODA_BLACKBOX_TEXT | 1ull << SODA_BLACKBOX_HEARTBEAT;
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, &ro, 0, &env->err), env->err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &env->err)) == 1) {
		size_t n;
		const uint8_t *body = soda_blackbox_record_get_data(rec, &n);

		if (soda_blackbox_record_get_type(rec) == SODA_BLACKBOX_TEXT && n == 12 &&
		    memcmp(body, "SODA-BB-IDLE", 12) == 0)
			text_at = soda_blackbox_record_get_realtime(rec);
		else if (text_at && soda_blackbox_record_get_type(rec) == SODA_BLACKBOX_HEARTBEAT &&
			 strcmp(soda_blackbox_record_get_origin(rec), "guest") == 0) {
			beats++;
			last_beat = soda_blackbox_record_get_realtime(rec);
		}
	}
	assert_soda_ok(r, env->err);
	soda_blackbox_reader_close(rd);
	print_message("idle for 12 s after the line: %llu heartbeats, the last %.2f s after it\n",
		      (unsigned long long)beats, (double)(last_beat - text_at) / 1e6);
	assert_true(text_at > 0);
	assert_true(beats >= 2);
	assert_true(last_beat >= text_at + 9500000u && last_beat <= text_at + 13000000u);
	soda_server_unref(srv);
	free(dir);
}

/* /dev/blackbox.ring: lines through shared memory (`/soda/init log`), a
 * long stream that wraps the ring many times, a last line without its
 * newline; and a hostile producer (tests/tools/ringattack.c) that tries to
 * shrink and grow the ring under the agent and lies about what it wrote:
 * the seals refuse the first two, the agent closes its connection on the
 * lie and says so in the stream, and the next producers, the FIFO and the
 * guest go on. */
static void test_ring(void **state)
{
	th_env *env = *state;
	const soda_blackbox_report *rep;
	soda_blackbox_reader *rd;
	soda_blackbox_report *vrep = NULL;
	char tools[256], *dir, *all, *out = NULL;
	soda_server *srv;
	long bulk;

	th_require_root();
	th_build_image(env);
	snprintf(tools, sizeof(tools), "%s", SODA_TEST_RINGATTACK);
	*strrchr(tools, '/') = '\0';
	srv = start_bb_server_with(env, "bbring", tools);
	dir = store_dir(env, srv);

	assert_int_equal(th_exec(srv,
				 "printf 'SODA-BB-%s\\nSODA-BB-%s\\nSODA-BB-%s' RING1 RING2 RING3 | "
				 "/soda/init log",
				 NULL),
			 0);
	/* 3 MB of 13-byte lines: the 1 MiB ring wraps, the producer waits for
	 * room. */
	assert_int_equal(th_exec(srv,
				 "yes \"$(printf 'SODA-BB-%s' BULK)\" | head -c 3000000 > /tmp/bulk && "
				 "/soda/init log /tmp/bulk",
				 NULL),
			 0);
	/* Not a producer's way in: a missing file, an option. */
	assert_int_not_equal(th_exec(srv, "/soda/init log /nonexistent", NULL), 0);
	assert_int_equal(th_exec(srv, "/soda/init log --help", NULL), 2);

	assert_int_equal(th_exec(srv, "/tools/ringattack", &out), 0);
	print_message("%s", out);
	assert_non_null(strstr(out, "shrink: refused"));
	assert_non_null(strstr(out, "grow: refused"));
	assert_non_null(strstr(out, "closed by the agent"));
	free(out);
	/* The agent goes on: another producer, the FIFO. */
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' RING4 | /soda/init log", NULL), 0);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' FIFO > /dev/blackbox", NULL), 0);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	all = read_all(dir, &rep, &rd);
	/* In order, not side by side: the audit's exec record of the producer
	 * (kauditd delivers it when it will) and the console's may come
	 * between; the last line, without its newline, is sealed when the
	 * producer is gone. */
	assert_non_null(strstr(all, "guest text: SODA-BB-RING1\n"));
	assert_non_null(strstr(all, "guest text: SODA-BB-RING2\n"));
	assert_non_null(strstr(all, "guest text: SODA-BB-RING3\n"));
	assert_true(strstr(all, "SODA-BB-RING1") < strstr(all, "SODA-BB-RING2"));
	assert_true(strstr(all, "SODA-BB-RING2") < strstr(all, "SODA-BB-RING3"));
	assert_int_equal(bb_count_text(dir, "SODA-BB-RING3", NULL), 1);
	assert_non_null(strstr(all, "guest lifecycle: /dev/blackbox.ring: producer's connection "
				    "closed: it broke the ring's protocol"));
	assert_non_null(strstr(all, "guest text: SODA-BB-RING4"));
	assert_non_null(strstr(all, "guest text: SODA-BB-FIFO"));
	assert_true(strstr(all, "broke the ring's protocol") < strstr(all, "SODA-BB-RING4"));
	/* What the attacker put in the ring under its lie was not taken. */
	assert_null(strstr(all, "ring attack"));
	if (soda_blackbox_report_get_status(rep) != SODA_BLACKBOX_INTACT)
		print_findings(rep);
	assert_int_equal(soda_blackbox_report_get_status(rep), SODA_BLACKBOX_INTACT);
	soda_blackbox_reader_close(rd);
	free(all);
	/* Every line of the bulk, none twice: 3,000,000 / 13 whole lines. */
	bulk = bb_count_text(dir, "SODA-BB-BULK", NULL);
	print_message("bulk through the ring: %ld lines\n", bulk);
	assert_int_equal(bulk, 3000000 / 13);
	assert_soda_ok(soda_blackbox_verify(&vrep, dir, NULL, 0, &env->err), env->err);
	assert_int_equal(soda_blackbox_report_get_status(vrep), SODA_BLACKBOX_INTACT);
	soda_blackbox_report_free(vrep);
	soda_server_unref(srv);
	free(dir);
}

static void test_bad_keys(void **state)
{
	th_env *env = *state;
	soda_server_config *cfg = NULL;
	uint8_t zero[32] = { 0 };

	assert_soda_ok(soda_server_config_new(&cfg, "bbbad", &env->err), env->err);
	assert_soda_fails(soda_server_config_set_blackbox(cfg, zero, NULL, &env->err), -EINVAL,
			  env->err);
	assert_int_equal(soda_server_config_get_blackbox(cfg, NULL), 0);
	soda_server_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_keys, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_idle_heartbeats, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_ring, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_end_to_end_and_intruder, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_monitor_killed_mid_write, env_setup,
						env_teardown),
	};
	int r;

	th_become_subreaper();
	if (soda_blackbox_key_generate(&tenant, SODA_BLACKBOX_KEY_TENANT, 0, NULL) < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	soda_blackbox_key_free(tenant);
	return r;
}
