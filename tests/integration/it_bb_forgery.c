/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Forgery against the blackbox with real UML guests (issue 16):
 *  - root in the guest seals a stream of its own to the tenant's public key
 *    (it is on the guest's kernel command line) with a backdated record and
 *    a fake sshd exec, and writes it to the log line through a device node
 *    it made (mknod /root/ttyS1 c 4 65): the verifier must call the store
 *    damaged (a foreign stream) and the reader must never hand those records
 *    out as the server's;
 *  - root in the guest sets the clock back an hour: the records' claimed
 *    times are flagged against the host's time of receipt;
 *  - the landlord cuts the store's tail or restores an older copy: anchors
 *    collected while the server ran (follow --anchors) prove it, while an
 *    honest crash of the monitor still reads as incomplete.
 * Each fails on the code before issue 16 (then the forged stream read as
 * the server's, nothing flagged the clock, and verify took no anchors file).
 */
#include "it_common.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#include <soda/blackbox.h>

static soda_blackbox_key *tenant; /* the test plays the tenant */

/* @open: the guest profile "open" (modules, debuggers, device nodes), under
 * which root in the guest can make a node for the log line; under "locked"
 * (the default) the agent's seccomp filter refuses it, and what is tested
 * here is the host's own line of defence, for any guest whose kernel an
 * intruder owns. */
static soda_server *start_server_r(th_env *env, const char *name, const char *tools, bool open,
				   uint32_t retention, uint64_t quota)
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
	if (open)
		assert_soda_ok(soda_server_config_set_guest_profile(cfg, SODA_GUEST_PROFILE_OPEN,
								    &env->err),
			       env->err);
	if (quota)
		assert_soda_ok(soda_server_config_set_blackbox_retention(cfg, retention, quota, &env->err),
			       env->err);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	return srv;
}

static soda_server *start_server_p(th_env *env, const char *name, const char *tools, bool open)
{
	return start_server_r(env, name, tools, open, 0, 0);
}

static soda_server *start_server(th_env *env, const char *name, const char *tools)
{
	return start_server_p(env, name, tools, false);
}

static char *store_dir(th_env *env, soda_server *srv)
{
	char *dir = NULL;

	assert_soda_ok(soda_server_get_blackbox_dir(&dir, srv, &env->err), env->err);
	return dir;
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

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

typedef struct mem {
	uint8_t *p;
	size_t len;
} mem;

static int to_mem(const void *frame, size_t len, void *userdata)
{
	mem *m = userdata;
	uint8_t *n = realloc(m->p, m->len + len);

	if (!n)
		return -ENOMEM;
	memcpy(n + m->len, frame, len);
	m->p = n;
	m->len += len;
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The intruder's stream, made as root in the guest could make it: sealed
 * to the tenant's public key (a public-only copy here), the server's label,
 * a fake sshd exec backdated six seconds before the intrusion. */
static void forge_stream(const char *path, const char *label, uint64_t intrusion)
{
	soda_blackbox_writer_options wo = SODA_BLACKBOX_WRITER_OPTIONS_INIT;
	soda_blackbox_writer *w = NULL;
	soda_blackbox_key *pub = NULL;
	soda_error *err = NULL;
	mem m = { 0 };
	const char *sshd = "/usr/sbin/sshd -D FORGED-SSHD";
	const char *note = "FORGED-NOTE admin logged in";

	assert_soda_ok(soda_blackbox_key_get_public(&pub, tenant, &err), err);
	wo.label = label;
	assert_soda_ok(soda_blackbox_writer_new(&w, pub, &wo, to_mem, &m, NULL, 0, &err), err);
	assert_soda_ok(soda_blackbox_writer_append(w, SODA_BLACKBOX_EXEC, 77, sshd, strlen(sshd),
						   intrusion - 6000000, 0, 0, &err),
		       err);
	assert_soda_ok(soda_blackbox_writer_append(w, SODA_BLACKBOX_TEXT, 0, note, strlen(note), 0, 0, 0,
						   &err),
		       err);
	assert_soda_ok(soda_blackbox_writer_end(w, 0, 0, &err), err);
	soda_blackbox_writer_free(w);
	soda_blackbox_key_free(pub);
	write_file(path, m.p, m.len);
	free(m.p);
}

typedef struct tally {
	int forged_as_server, forged_foreign, ours, ours_flagged, late_far, ontime_far;
	bool any_back, reader_named_foreign, clock_finding;
	uint32_t status;
} tally;

/* Reads the store with the tenant's key and counts what the test asks. */
static void read_tally(const char *dir, tally *t)
{
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	const soda_blackbox_report *rep;
	soda_error *err = NULL;
	int r;

	memset(t, 0, sizeof(*t));
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &err), err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &err)) == 1) {
		size_t n;
		const char *b = (const char *)soda_blackbox_record_get_data(rec, &n);
		char *body = strndup(b, n);
		uint32_t fl = soda_blackbox_record_get_flags(rec);
		bool foreign = fl & SODA_BLACKBOX_RECORD_F_FOREIGN;

		assert_non_null(body);
		if (strstr(body, "FORGED-")) {
			if (foreign && strcmp(soda_blackbox_record_get_origin(rec), "foreign") == 0)
				t->forged_foreign++;
			else
				t->forged_as_server++;
		}
		if (strstr(body, "SODA-BB-OURS")) {
			t->ours++;
			if (fl & (SODA_BLACKBOX_RECORD_F_FOREIGN | SODA_BLACKBOX_RECORD_F_TIME_FAR))
				t->ours_flagged++;
		}
		if (strstr(body, "SODA-BB-LATE") && (fl & SODA_BLACKBOX_RECORD_F_TIME_FAR))
			t->late_far++;
		/* The first record after the clock went back (the date
		 * command's exec, as like as not) goes back. */
		if (fl & SODA_BLACKBOX_RECORD_F_TIME_BACK)
			t->any_back = true;
		if (strstr(body, "SODA-BB-ONTIME") && (fl & SODA_BLACKBOX_RECORD_F_TIME_FAR))
			t->ontime_far++;
		free(body);
	}
	assert_soda_ok(r, err);
	rep = soda_blackbox_reader_get_report(rd);
	print_findings(rep);
	t->reader_named_foreign = has_finding(rep, SODA_BLACKBOX_F_FOREIGN_STREAM);
	t->clock_finding = has_finding(rep, SODA_BLACKBOX_F_CLOCK);
	t->status = soda_blackbox_report_get_status(rep);
	soda_blackbox_reader_close(rd);
}

static void save_secret_key(th_env *env, char *out, size_t size)
{
	snprintf(out, size, "%s/tenant.key", env->state_dir);
	assert_soda_ok(soda_blackbox_key_save_secret(tenant, out, 0, &env->err), env->err);
}

static void test_forged_stream_through_a_device_node(void **state)
{
	th_env *env = *state;
	soda_blackbox_report *vrep = NULL;
	soda_server *srv;
	char tools[512], forged[600], key[512], *dir, *out = NULL;
	tally t;

	th_require_root();
	th_build_image(env);
	snprintf(tools, sizeof(tools), "%s/forge", env->state_dir);
	assert_int_equal(mkdir(tools, 0755), 0);
	snprintf(forged, sizeof(forged), "%s/forged.bin", tools);
	forge_stream(forged, "bbforge", now_usec());
	srv = start_server_p(env, "bbforge", tools, true);
	dir = store_dir(env, srv);

	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' OURS > /dev/blackbox", NULL), 0);
	/* The intrusion: a device node for the log line, the forged stream on it. */
	th_exec(srv,
		"mkdir -p /root && mknod /root/ttyS1 c 4 65 && cat /tools/forged.bin > /root/ttyS1 && "
		"echo sent",
		&out);
	assert_non_null(out);
	if (!strstr(out, "sent"))
		print_message("guest: %s\n", out);
	assert_non_null(strstr(out, "sent"));
	free(out);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' OURS > /dev/blackbox", NULL), 0);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	/* The landlord, without a key: damage, a foreign stream. */
	assert_soda_ok(soda_blackbox_verify(&vrep, dir, NULL, 0, &env->err), env->err);
	print_findings(vrep);
	assert_int_equal(soda_blackbox_report_get_status(vrep), SODA_BLACKBOX_DAMAGED);
	assert_true(has_finding(vrep, SODA_BLACKBOX_F_FOREIGN_STREAM));
	soda_blackbox_report_free(vrep);

	/* The tenant: the forged records are there, never as the server's;
	 * the agent's own are (the control: the reader does not flag all). */
	read_tally(dir, &t);
	assert_int_equal(t.status, SODA_BLACKBOX_DAMAGED);
	assert_true(t.reader_named_foreign);
	assert_int_equal(t.forged_as_server, 0);
	assert_int_equal(t.forged_foreign, 2);
	assert_int_equal(t.ours, 2);
	assert_int_equal(t.ours_flagged, 0);

	/* The command line shows them apart, after the server's records. */
	save_secret_key(env, key, sizeof(key));
	{
		char cmd[2048], *text = NULL;
		size_t len = 0;
		FILE *p;
		int status;

		snprintf(cmd, sizeof(cmd), "%s read --key %s %s 2>/dev/null", SODA_TEST_BLACKBOX_CLI, key,
			 dir);
		p = popen(cmd, "re");
		assert_non_null(p);
		{
			char buf[4096];
			size_t n;
			FILE *m = open_memstream(&text, &len);

			while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
				fwrite(buf, 1, n, m);
			fclose(m);
		}
		status = pclose(p);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 5); /* damaged */
		{
			char *apart = strstr(text, "NOT the server's");
			char *sshd = strstr(text, "FORGED-SSHD");

			assert_non_null(apart);
			assert_non_null(sshd);
			assert_true(sshd > apart);
			assert_non_null(strstr(apart, "!FOREIGN"));
			assert_true(strstr(text, "SODA-BB-OURS") < apart);
		}
		free(text);
	}
	soda_server_unref(srv);
	free(dir);
}

/* busybox date -s "YYYY-MM-DD hh:mm:ss" (UTC in the guest) of now + @delta. */
static void guest_date(char *out, size_t size, int64_t delta)
{
	time_t t = time(NULL) + delta;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "date -u -s '%Y-%m-%d %H:%M:%S' >/dev/null", &tm);
}

static void test_backdated_records_are_flagged(void **state)
{
	th_env *env = *state;
	soda_server *srv;
	char cmd[256], *dir;
	tally t;

	th_require_root();
	th_build_image(env);
	srv = start_server(env, "bbclock", NULL);
	dir = store_dir(env, srv);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' OURS > /dev/blackbox", NULL), 0);
	/* The intruder sets the guest's clock back an hour, acts, sets it right. */
	guest_date(cmd, sizeof(cmd), -3600);
	assert_int_equal(th_exec(srv, cmd, NULL), 0);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' LATE > /dev/blackbox", NULL), 0);
	guest_date(cmd, sizeof(cmd), 0);
	assert_int_equal(th_exec(srv, cmd, NULL), 0);
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' ONTIME > /dev/blackbox", NULL), 0);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	read_tally(dir, &t);
	assert_int_equal(t.ours, 1);
	assert_int_equal(t.ours_flagged, 0); /* the control: on time, not flagged */
	assert_int_equal(t.late_far, 1);
	assert_true(t.any_back);
	assert_true(t.clock_finding);
	assert_int_equal(t.ontime_far, 0);
	/* Information, not damage nor loss: the store holds all and intact;
	 * the tenant may have set its clock itself. The records say it. */
	assert_int_equal(t.status, SODA_BLACKBOX_INTACT);
	soda_server_unref(srv);
	free(dir);
}

/* ---- anchors ---- */

static void append_anchor(const char *dir, const char *file)
{
	char *a = NULL;
	soda_error *err = NULL;
	FILE *f;

	assert_soda_ok(soda_blackbox_store_read_anchor(&a, dir, 0, &err), err);
	f = fopen(file, "ae");
	assert_non_null(f);
	fprintf(f, "%llu %s\n", (unsigned long long)time(NULL), a);
	fclose(f);
	soda_free(a);
}

/* soda-blackbox verify --anchors FILE STORE: its exit code. */
static int cli_verify(const char *anchors, const char *dir)
{
	int status = th_sh("%s verify --anchors %s %s >/dev/null", SODA_TEST_BLACKBOX_CLI, anchors,
			   dir);

	return status;
}

static char *last_segment(const char *dir)
{
	char *cmd = NULL, line[512] = "";
	FILE *p;

	assert_true(asprintf(&cmd, "ls %s/seg-*.sbx | tail -1", dir) > 0);
	p = popen(cmd, "re");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	free(cmd);
	line[strcspn(line, "\n")] = 0;
	return strdup(line);
}

static void test_anchors_catch_truncation_and_rollback(void **state)
{
	th_env *env = *state;
	soda_blackbox_verify_options vo = SODA_BLACKBOX_VERIFY_OPTIONS_INIT;
	soda_blackbox_report *rep = NULL;
	soda_server_info *info = NULL;
	soda_server *srv;
	char anchors[512], followed[512], key[512], older[512], work[512], *dir, *seg;
	pid_t follower;
	int mpid, status;

	th_require_root();
	th_build_image(env);
	srv = start_server(env, "bbanchor", NULL);
	dir = store_dir(env, srv);
	snprintf(anchors, sizeof(anchors), "%s/anchors", env->state_dir);
	snprintf(followed, sizeof(followed), "%s/followed", env->state_dir);
	save_secret_key(env, key, sizeof(key));
	/* The tenant's follower: soda-blackbox follow --anchors, by itself. */
	{
		char *const argv[] = { SODA_TEST_BLACKBOX_CLI, "follow", "--key", key, "--anchors",
				       followed, dir, NULL };
		posix_spawn_file_actions_t fa;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		assert_int_equal(posix_spawn(&follower, argv[0], &fa, NULL, argv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
	}
	snprintf(older, sizeof(older), "%s/older-copy", env->state_dir);
	snprintf(work, sizeof(work), "%s/work", env->state_dir);

	/* The follower collects the head while the server runs. */
	assert_int_equal(th_exec(srv, "printf 'SODA-BB-%s\\n' ONE > /dev/blackbox", NULL), 0);
	usleep(100 * 1000);
	append_anchor(dir, anchors);
	assert_int_equal(th_sh("cp -a %s %s", dir, older), 0); /* the landlord keeps a copy */
	assert_int_equal(th_exec(srv, "i=0; while [ $i -lt 200 ]; do i=$((i+1)); "
				      "printf 'SODA-BB-TWO-%d\\n' $i; done > /dev/blackbox",
				 NULL),
			 0);
	usleep(100 * 1000);
	append_anchor(dir, anchors);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
	append_anchor(dir, anchors);
	usleep(2500 * 1000); /* the follower looks every second */
	assert_int_equal(kill(follower, SIGTERM), 0);
	assert_int_equal(waitpid(follower, &status, 0), follower);

	/* Intact with every anchor (the control), the follower's too. */
	assert_int_equal(cli_verify(anchors, dir), 0);
	assert_int_equal(cli_verify(followed, dir), 0);
	{
		char *text = th_read_file(followed);

		assert_non_null(text);
		print_message("the follower's anchors:\n%s", text);
		/* It saw the store at its end: the last anchor is the head's. */
		{
			char *a = NULL;

			assert_soda_ok(soda_blackbox_store_read_anchor(&a, dir, 0, &env->err), env->err);
			assert_non_null(strstr(text, a));
			soda_free(a);
		}
		free(text);
	}

	/* The tail cut: the store's own head says so, and so do the anchors. */
	assert_int_equal(th_sh("rm -rf %s && cp -a %s %s", work, dir, work), 0);
	seg = last_segment(work);
	{
		struct stat sb;

		assert_int_equal(stat(seg, &sb), 0);
		assert_int_equal(truncate(seg, sb.st_size - 300), 0);
	}
	assert_int_equal(cli_verify(anchors, work), 5); /* damaged */
	free(seg);

	/* An older copy restored, head and all: consistent in itself, so
	 * without anchors it passes for a crash... */
	assert_int_equal(th_sh("rm -rf %s && cp -a %s %s", work, older, work), 0);
	assert_soda_ok(soda_blackbox_verify(&rep, work, NULL, 0, &env->err), env->err);
	print_findings(rep);
	assert_int_not_equal(soda_blackbox_report_get_status(rep), SODA_BLACKBOX_DAMAGED);
	soda_blackbox_report_free(rep);
	/* ...the anchors prove the rollback, the follower's by themselves. */
	assert_int_equal(cli_verify(anchors, work), 5); /* damaged */
	assert_int_equal(cli_verify(followed, work), 5);

	/* The last segment deleted (this store has one: then none is left). */
	assert_int_equal(th_sh("rm -rf %s && cp -a %s %s && rm -f %s/seg-*.sbx", work, dir, work,
			       work),
			 0);
	assert_int_equal(cli_verify(anchors, work), 5); /* damaged */

	/* An honest crash: the monitor killed mid-write; everything anchored
	 * was committed and stays, the store reads incomplete, not damaged. */
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	assert_int_equal(th_exec(srv,
				 "(i=0; while [ $i -lt 100000 ]; do i=$((i+1)); "
				 "printf 'SODA-BB-SEQ-%d\\n' $i; done > /dev/blackbox) "
				 "</dev/null >/dev/null 2>&1 &",
				 NULL),
			 0);
	for (int i = 0; i < 5; i++) {
		usleep(200 * 1000);
		append_anchor(dir, anchors);
	}
	assert_soda_ok(soda_server_get_info(&info, srv, 0, &env->err), env->err);
	mpid = soda_server_info_get_monitor_pid(info);
	soda_server_info_free(info);
	assert_int_equal(kill(mpid, SIGKILL), 0);
	if (waitpid(mpid, NULL, 0) < 0)
		for (int i = 0; i < 500 && th_pid_alive(mpid); i++)
			usleep(10 * 1000);
	assert_false(th_pid_alive(mpid));
	th_reap();
	assert_soda_ok(soda_context_recover(env->ctx, 0, &env->err), env->err);
	assert_int_equal(cli_verify(anchors, dir), 4); /* incomplete */
	/* The same through the API, every anchor of the file. */
	{
		char *lines[64];
		size_t n = 0;
		char line[512];
		FILE *f = fopen(anchors, "re");

		assert_non_null(f);
		while (n < 64 && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			lines[n++] = strdup(strrchr(line, ' ') + 1);
		}
		fclose(f);
		assert_true(n >= 8);
		vo.anchors = (const char *const *)lines;
		vo.n_anchors = n;
		assert_soda_ok(soda_blackbox_verify(&rep, dir, &vo, 0, &env->err), env->err);
		print_findings(rep);
		assert_int_equal(soda_blackbox_report_get_status(rep), SODA_BLACKBOX_INCOMPLETE);
		assert_false(has_finding(rep, SODA_BLACKBOX_F_ANCHOR));
		soda_blackbox_report_free(rep);
		for (size_t i = 0; i < n; i++)
			free(lines[i]);
	}
	soda_server_unref(srv);
	free(dir);
}

/* ---- retention at the quota ---- */

/* The landlord's event stream: the blackbox's quota warnings and anchors. */
typedef struct bb_events {
	const char *server;
	uint32_t max_quota;
	char anchor[160];
	int anchors;
} bb_events;

static int on_event(soda_context *ctx, const soda_event *ev, void *userdata)
{
	bb_events *be = userdata;

	(void)ctx;
	if (strcmp(soda_event_get_server(ev), be->server) != 0)
		return 0;
	if (soda_event_get_kind(ev) == SODA_EVENT_BLACKBOX_QUOTA) {
		uint32_t pct = (uint32_t)atoi(soda_event_get_reason(ev));

		if (pct > be->max_quota)
			be->max_quota = pct;
	} else if (soda_event_get_kind(ev) == SODA_EVENT_BLACKBOX_ANCHOR) {
		snprintf(be->anchor, sizeof(be->anchor), "%s", soda_event_get_reason(ev));
		be->anchors++;
	}
	return 0;
}

static uint64_t dir_bytes(const char *dir, int *ret_segments)
{
	char cmd[600], line[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sb --apparent-size %s | cut -f1; ls %s | grep -c '^seg-'", dir,
		 dir);
	p = popen(cmd, "re");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	{
		uint64_t bytes = strtoull(line, NULL, 10);

		assert_non_null(fgets(line, sizeof(line), p));
		*ret_segments = atoi(line);
		pclose(p);
		return bytes;
	}
}

/* 14 MB of 1 KB lines through the ring into a store of 8 MiB, then a last
 * marker: with drop-oldest the oldest segments go (a deletion record in
 * the chain, the store verifies intact, the last marker is read); with
 * stop (the control) the old records stay and the last marker is refused. */
static void flood(th_env *env, const char *name, uint32_t policy, bool *ret_last, bool *ret_deleted,
		  uint32_t *ret_status, uint64_t *ret_bytes, int *ret_segments, char **ret_log,
		  bb_events *be)
{
	soda_blackbox_verify_options vo = SODA_BLACKBOX_VERIFY_OPTIONS_INIT;
	soda_blackbox_report *vrep = NULL;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_server *srv;
	char *dir;
	uint64_t handler = 0;
	const char *anchors[1];
	int r, i;

	memset(be, 0, sizeof(*be));
	be->server = name;
	assert_soda_ok(soda_context_add_event_handler(&handler, env->ctx, on_event, be, NULL, 0,
						      &env->err),
		       env->err);
	srv = start_server_r(env, name, NULL, false, policy, 8ull << 20);
	dir = store_dir(env, srv);

	/* In the background: under load it may take longer than one command may. */
	assert_int_equal(th_exec(srv,
				 "(yes \"$(printf 'SODA-BB-%s%01000d' FLOOD 0)\" | head -c 14000000 | "
				 "/soda/init log; "
				 "printf 'SODA-BB-%s\\n' LAST > /dev/blackbox; touch /tmp/flood-done) "
				 "</dev/null >/dev/null 2>&1 &",
				 NULL),
			 0);
	for (i = 0; i < 240 && th_exec(srv, "test -e /tmp/flood-done", NULL) != 0; i++)
		soda_context_wait(env->ctx, 500, 0, NULL);
	assert_true(i < 240);
	/* The monitor sends the head every 10 s. */
	for (i = 0; i < 60 && !be->anchors; i++)
		soda_context_wait(env->ctx, 500, 0, NULL);
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
	assert_soda_ok(soda_context_remove_event_handler(env->ctx, handler, &env->err), env->err);
	print_message("%s: quota events up to %u %%, %d anchors, the last %s\n", name, be->max_quota,
		      be->anchors, be->anchor);
	assert_true(be->anchors > 0);
	/* The anchor of the event holds (for drop-oldest: if its segment is
	 * still there). */
	anchors[0] = be->anchor;
	vo.anchors = anchors;
	vo.n_anchors = 1;
	assert_soda_ok(soda_blackbox_verify(&vrep, dir, &vo, 0, &env->err), env->err);
	print_findings(vrep);
	*ret_status = soda_blackbox_report_get_status(vrep);
	soda_blackbox_report_free(vrep);
	*ret_last = *ret_deleted = false;
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &env->err), env->err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &env->err)) == 1) {
		size_t n;
		const char *b = (const char *)soda_blackbox_record_get_data(rec, &n);

		if (n >= 12 && memcmp(b, "SODA-BB-LAST", 12) == 0)
			*ret_last = true;
		if (memmem(b, n, "deleted (drop-oldest at the quota)", 34))
			*ret_deleted = true;
	}
	assert_soda_ok(r, env->err);
	soda_blackbox_reader_close(rd);
	*ret_bytes = dir_bytes(dir, ret_segments);
	*ret_log = state_path(env, "servers", name);
	soda_server_unref(srv);
	free(dir);
}

static void test_retention_drop_oldest(void **state)
{
	th_env *env = *state;
	bool last, deleted;
	uint32_t status;
	uint64_t bytes;
	int segments;
	char *log;
	bb_events be;

	th_require_root();
	th_build_image(env);
	/* stop (the control): the newest records are refused at the quota. */
	flood(env, "bbstop", SODA_BLACKBOX_RETENTION_STOP, &last, &deleted, &status, &bytes, &segments,
	      &log, &be);
	assert_int_equal(be.max_quota, 95); /* the landlord heard of it */
	print_message("stop: %llu bytes in %d segments, status %u\n", (unsigned long long)bytes,
		      segments, status);
	assert_false(last);
	assert_false(deleted);
	/* Declared, not damage: the receipts of refused frames must not eat
	 * the room of the loss notices (they did, at first). */
	assert_int_equal(status, SODA_BLACKBOX_INCOMPLETE);
	assert_true(bytes <= (8ull << 20) + 4096);
	assert_int_equal(th_sh("grep -q 'blackbox quota: 95 %% used' %s/monitor.log", log), 0);
	free(log);
	/* drop-oldest: whole old segments go, the last marker is kept. */
	flood(env, "bbdrop", SODA_BLACKBOX_RETENTION_DROP_OLDEST, &last, &deleted, &status, &bytes,
	      &segments, &log, &be);
	assert_true(be.max_quota >= 80);
	print_message("drop-oldest: %llu bytes in %d segments, status %u\n", (unsigned long long)bytes,
		      segments, status);
	assert_true(last);
	assert_true(deleted);
	assert_int_equal(status, SODA_BLACKBOX_INTACT);
	assert_true(bytes <= (8ull << 20) + 4096);
	assert_true(segments >= 4);
	assert_int_equal(th_sh("grep -q 'blackbox quota: 80 %% used' %s/monitor.log", log), 0);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forged_stream_through_a_device_node, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_backdated_records_are_flagged, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_anchors_catch_truncation_and_rollback, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_retention_drop_oldest, env_setup, env_teardown),
	};
	int r;

	th_become_subreaper();
	if (soda_blackbox_key_generate(&tenant, SODA_BLACKBOX_KEY_TENANT, 0, NULL) < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	soda_blackbox_key_free(tenant);
	return r;
}
