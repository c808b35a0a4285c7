/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort inside the guest, end to end: a server defined with a rule file
 * (soda_server_config_set_ids_rules, as sodactl create --ids-rules); in
 * the guest, a program the rules name is run, /etc/hosts.deny written, a
 * port opened for listening, a syslog line and a kernel log line logged,
 * a line typed on the console and a program started by a shell copied
 * to /tmp (a rule on exec.parent). The tenant reads the ids-alert records
 * from its blackbox: the right sids, in the order of the steps, each within
 * a second of its step; the benign twin of each step (another program,
 * another file, another port, another message) raises nothing; the rules'
 * SHA-256 is in the stream before the first alert. A rule file with a bad
 * rule is refused at definition with its line and column.
 */
#include "it_bb_common.h"

#include <time.h>
#include <unistd.h>

#include <soda/ids.h>

static const char rules[] =
	"# Kernort in the guest: one rule per event kind\n"
	"alert exec any any -> any any (msg:\"backdoor run\"; exec.path; content:\"/kx-backdoor\"; "
	"endswith; sid:1001;)\n"
	"alert file any any -> any any (msg:\"hosts.deny written\"; file.path; "
	"content:\"/etc/hosts.deny\"; startswith; endswith; file.op; content:\"write\"; sid:1002;)\n"
	"alert net any any -> any any (msg:\"listener on a backdoor port\"; net.op; "
	"content:\"listen\"; net.port; content:\"60008\"; startswith; endswith; sid:1003;)\n"
	"alert syslog any any -> any any (msg:\"auth failure\"; syslog.message; "
	"content:\"KX-AUTH-FAIL\"; sid:1004;)\n"
	"alert klog any any -> any any (msg:\"kernel marker\"; klog.message; "
	"content:\"KX-KMSG-BAD\"; sid:1005;)\n"
	"alert tty any any -> any any (msg:\"history off\"; tty.input; content:\"unset\"; "
	"content:\"HISTFILE\"; distance:1; within:9; sid:1006;)\n"
	/* the parent's program: the agent looks it up before evaluating */
	"alert exec any any -> any any (msg:\"spawned by a shell from /tmp\"; exec.parent; "
	"content:\"/tmp/kx-dir/\"; startswith; sid:1007;)\n";

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static char *write_rules(th_env *env, const char *name, const char *text)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", env->state_dir, name) > 0);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* A bad rule in the middle of a file: refused at definition, with where. */
static void test_bad_rules(void **state)
{
	th_env *env = *state;
	soda_server_config *cfg = NULL;
	char *path = write_rules(env, "bad.rules",
				 "alert exec any any -> any any (exec.path; content:\"x\"; sid:1;)\n"
				 "# the next one reads a packet header in an exec rule\n"
				 "alert exec any any -> any any (exec.path; content:\"y\"; \\\n"
				 "    ttl:3; sid:2;)\n");

	assert_soda_ok(soda_server_config_new(&cfg, "kx-bad", &env->err), env->err);
	assert_int_equal(soda_server_config_set_ids_rules(cfg, path, 0, &env->err), -EINVAL);
	assert_non_null(env->err);
	print_message("refused: %s\n", soda_error_message(env->err));
	assert_int_equal(soda_error_line(env->err), 4);
	assert_int_equal(soda_error_column(env->err), 5);
	assert_string_equal(soda_error_source(env->err), path);
	assert_non_null(strstr(soda_error_message(env->err), "ttl"));
	assert_null(soda_server_config_get_ids_rules_sha256(cfg));
	soda_error_free(env->err);
	env->err = NULL;
	assert_int_equal(soda_server_config_set_ids_rules(cfg, path, 2, NULL), -EINVAL);
	soda_server_config_free(cfg);
	free(path);
}

struct step {
	const char *benign;  /* a twin that must raise nothing */
	const char *action;  /* raises sid */
	uint32_t sid;
	uint64_t t0;         /* host time before the action */
};

static void test_alerts(void **state)
{
	th_env *env = *state;
	struct step steps[] = {
		{ "/bin/busybox true", "cp /bin/busybox /tmp/kx-backdoor && /tmp/kx-backdoor true; true",
		  1001, 0 },
		{ "echo 'ALL: 203.0.113.9' >> /etc/kx-hosts", "echo 'ALL: 203.0.113.9' >> /etc/hosts.deny",
		  1002, 0 },
		{ "(/bin/busybox nc -l -p 8081 >/dev/null 2>&1 &) ; sleep 0.5",
		  "(/bin/busybox nc -l -p 60008 >/dev/null 2>&1 &) ; true", 1003, 0 },
		{ "logger -t kx 'KX-AUTH-OK for root'", "logger -t kx 'KX-AUTH-FAIL for root'", 1004, 0 },
		{ "echo KX-KMSG-OK > /dev/kmsg", "echo KX-KMSG-BAD > /dev/kmsg", 1005, 0 },
		{ "echo HISTFILE unset", "unset HISTFILE", 1006, 0 },
		/* a shell copied to /tmp forks a program (two commands: the
		 * first is not exec'd in place); its twin is the stock shell */
		{ "/bin/busybox sh -c '/bin/busybox true; true'",
		  "mkdir -p /tmp/kx-dir && cp /bin/busybox /tmp/kx-dir/sh && "
		  "/tmp/kx-dir/sh -c '/bin/busybox true; true'",
		  1007, 0 },
	};
	const size_t n_steps = sizeof(steps) / sizeof(steps[0]);
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	char *path = write_rules(env, "guest.rules", rules), *dir, digest[65], want[100];
	size_t n_alerts = 0;
	bool digest_seen = false;
	uint8_t box[32];
	int r;

	th_build_image(env);
	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_new(&cfg, "kx-ids", &env->err), env->err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 48 << 20, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_ids_rules(cfg, path, 0, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_ids_landlord_alerts(cfg, 1, &env->err), env->err);
	snprintf(digest, sizeof(digest), "%s", soda_server_config_get_ids_rules_sha256(cfg));
	assert_int_equal(strlen(digest), 64);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	dir = bb_store_dir(env, srv);

	for (size_t i = 0; i < n_steps; i++) {
		assert_int_equal(th_exec(srv, steps[i].benign, NULL), 0);
		/* the benign step's events are in before the next step */
		assert_int_equal(th_exec(srv, "sleep 0.4", NULL), 0);
		steps[i].t0 = now_usec();
		assert_int_equal(th_exec(srv, steps[i].action, NULL), 0);
		assert_int_equal(th_exec(srv, "sleep 0.4", NULL), 0);
	}
	assert_int_equal(th_exec(srv, "sleep 1", NULL), 0);
	/* The landlord's stream, allowed by the tenant: metadata only. */
	{
		char *run = state_path(env, "run", "kx-ids"), *file = NULL, *text;
		const char *p;

		assert_true(asprintf(&file, "%s/ids-alerts.jsonl", run) > 0);
		text = th_read_file(file);
		assert_non_null(text);
		p = text;
		for (size_t i = 0; i < n_steps; i++) {
			char key[64];

			snprintf(key, sizeof(key), "\"source\":\"guest\",\"gid\":1,\"sid\":%u,",
				 steps[i].sid);
			p = strstr(p, key);
			if (!p)
				fail_msg("landlord: no %s in order in:\n%s", key, text);
		}
		assert_int_equal(strstr(p + 1, "\"source\":\"guest\"") != NULL, 0);
		/* neither the rule's message nor the event's fields */
		assert_null(strstr(text, "backdoor"));
		assert_null(strstr(text, "hosts.deny"));
		assert_null(strstr(text, "KX-AUTH"));
		free(text);
		free(file);
		free(run);
	}
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);

	snprintf(want, sizeof(want), "kernort: rules sha256=%s ", digest);
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &env->err), env->err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &env->err)) == 1) {
		size_t len;
		const char *body = (const char *)soda_blackbox_record_get_data(rec, &len);
		uint32_t type = soda_blackbox_record_get_type(rec);
		char *text = strndup(body, len);

		if (type == SODA_BLACKBOX_LIFECYCLE && strstr(text, want)) {
			assert_false(digest_seen);
			assert_int_equal(n_alerts, 0);
			assert_non_null(strstr(text, "event-rules=7 "));
			assert_null(strstr(text, " file-watches=0 "));
			assert_non_null(strstr(text, " net-poll=yes "));
			digest_seen = true;
		}
		if (type == SODA_BLACKBOX_IDS_ALERT) {
			uint32_t sid = soda_blackbox_record_get_aux(rec);
			uint64_t got = soda_blackbox_record_get_received(rec);
			char sidtext[40];

			print_message("alert: %s\n", text);
			if (n_alerts >= n_steps)
				fail_msg("an alert more than the steps: %s", text);
			assert_int_equal(sid, steps[n_alerts].sid);
			snprintf(sidtext, sizeof(sidtext), "\"signature_id\":%u,", sid);
			assert_non_null(strstr(text, sidtext));
			assert_non_null(strstr(text, "\"event_type\":\"alert\""));
			/* no rule reads exec.parent, so the agent looks it up for
			 * the alert's record only: it is there all the same */
			if (sid == 1001 && !strstr(text, "\"exec.parent\":\"/bin/busybox\""))
				fail_msg("exec alert without its parent: %s", text);
			/* within a second of its step, not before it (the arrival
			 * time is kept to the millisecond) */
			if (got + 1000u < steps[n_alerts].t0 || got > steps[n_alerts].t0 + 1000000u)
				fail_msg("sid %u arrived %lld us after its step", sid,
					 (long long)got - (long long)steps[n_alerts].t0);
			print_message("sid %u: %lld ms after its step\n", sid,
				      ((long long)got - (long long)steps[n_alerts].t0) / 1000);
			n_alerts++;
		}
		free(text);
	}
	assert_soda_ok(r, env->err);
	soda_blackbox_reader_close(rd);
	assert_true(digest_seen);
	assert_int_equal(n_alerts, n_steps);
	soda_server_unref(srv);
	free(dir);
	free(path);
}

/* Packets the guest receives (SODA_IDS_RULES_GUEST_PACKETS): a packet rule
 * on what one guest process sends another over loopback alerts with the
 * option, and (the control) not without it; its benign twin never. */
static unsigned packet_alerts(th_env *env, const char *name, unsigned int flags)
{
	static const char prules[] =
		"alert tcp any any -> any 7777 (msg:\"marker over tcp\"; flow:to_server; "
		"content:\"KX-PKT-BAD\"; sid:2001;)\n"
		"alert exec any any -> any any (exec.path; content:\"/kx-none\"; sid:2002;)\n";
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	char *path = write_rules(env, "packets.rules", prules), *dir;
	unsigned n = 0;
	uint8_t box[32];
	int r;

	assert_soda_ok(soda_blackbox_key_get_box_public(tenant, box, sizeof(box)), NULL);
	assert_soda_ok(soda_server_config_new(&cfg, name, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_memory(cfg, 48 << 20, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_blackbox(cfg, box, NULL, &env->err), env->err);
	assert_soda_ok(soda_server_config_set_ids_rules(cfg, path, flags, &env->err), env->err);
	assert_soda_ok(soda_server_define(&srv, env->ctx, cfg, 0, &env->err), env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &env->err), env->err);
	dir = bb_store_dir(env, srv);
	/* Each listener's input stays open (sleep 3 |) so that it does not
	 * close first: a client that sees the server's FIN before it has
	 * read its own input leaves without sending (the marker never goes
	 * on the wire). The exit status says both markers arrived. */
	assert_int_equal(th_exec(srv, "ip link set lo up 2>/dev/null; "
				      "(sleep 3 | nc -l -p 7777 >/tmp/kx-got1 2>&1 &) ; sleep 0.3; "
				      "echo KX-PKT-OK | nc -w 1 127.0.0.1 7777; "
				      "(sleep 3 | nc -l -p 7777 >/tmp/kx-got2 2>&1 &) ; sleep 0.3; "
				      "echo KX-PKT-BAD | nc -w 1 127.0.0.1 7777; sleep 2; "
				      "grep -q KX-PKT-OK /tmp/kx-got1 && grep -q KX-PKT-BAD /tmp/kx-got2",
			 NULL),
			 0);
	/* With packets on, the agent takes the frames on its next passes: on a
	 * loaded machine that can be seconds after the command; wait for the
	 * alert to be in the store (10 s at most) before stopping, rather than
	 * guess a time. Without packets nothing may come: the 2 s above. */
	for (int tries = 0; flags && tries < 50; tries++) {
		unsigned seen = 0;

		if (soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, NULL) == 0) {
			while (soda_blackbox_reader_next(rd, &rec, 0, NULL) == 1)
				seen += soda_blackbox_record_get_type(rec) == SODA_BLACKBOX_IDS_ALERT;
			soda_blackbox_reader_close(rd);
			rd = NULL;
		}
		if (seen)
			break;
		usleep(200 * 1000);
	}
	assert_soda_ok(soda_server_stop(srv, 10000, 0, &env->err), env->err);
	assert_soda_ok(soda_blackbox_reader_open(&rd, dir, tenant, NULL, 0, &env->err), env->err);
	while ((r = soda_blackbox_reader_next(rd, &rec, 0, &env->err)) == 1) {
		size_t blen;
		const char *b = (const char *)soda_blackbox_record_get_data(rec, &blen);

		/* the agent says whether it inspects packets */
		if (soda_blackbox_record_get_type(rec) == SODA_BLACKBOX_LIFECYCLE &&
		    blen > 8 && memcmp(b, "kernort:", 8) == 0) {
			print_message("%s: %.*s\n", name, (int)blen, b);
			const char *want = flags ? "packets=yes" : "packets=no";

			assert_non_null(memmem(b, blen, want, strlen(want)));
			/* an exec rule alone: no watches, no /proc/net polling */
			assert_non_null(memmem(b, blen, " file-watches=0 net-poll=no ", 28));
		}
		if (soda_blackbox_record_get_type(rec) == SODA_BLACKBOX_IDS_ALERT) {
			size_t len;
			const char *body = (const char *)soda_blackbox_record_get_data(rec, &len);

			print_message("%s: %.*s\n", name, (int)len, body);
			assert_int_equal(soda_blackbox_record_get_aux(rec), 2001);
			n++;
		}
		if (getenv("SODA_TEST_VERBOSE") && soda_blackbox_record_get_type(rec) ==
							SODA_BLACKBOX_CONSOLE_OUT)
			print_message("%.*s", (int)blen, b);
	}
	assert_soda_ok(r, env->err);
	soda_blackbox_reader_close(rd);
	soda_server_unref(srv);
	free(dir);
	free(path);
	return n;
}

static void test_packets(void **state)
{
	th_env *env = *state;

	th_build_image(env);
	assert_int_equal(packet_alerts(env, "kx-pkt-off", 0), 0);
	assert_int_equal(packet_alerts(env, "kx-pkt-on", SODA_IDS_RULES_GUEST_PACKETS), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_rules, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_alerts, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_packets, env_setup, env_teardown),
	};
	int r;

	th_become_subreaper();
	if (bb_setup_tenant() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	soda_blackbox_key_free(tenant);
	return r;
}
