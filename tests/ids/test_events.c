/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort on guest events (events.h): for every event kind, events that
 * must alert and events that must not; field keywords are sticky buffers
 * (relative keywords stay in their field); thresholds; packet rules and
 * event rules never see each other; bad event rules are refused with
 * line, column and a reason; the EVE line.
 */
#include <errno.h>

#include "detect_util.h"
#include "libsoda/ids/events.h"

struct evsink {
	size_t n;
	uint32_t sids[64];
	char *eve;
};

static void on_alert(void *userdata, const struct kn_alert *a, const struct kn_event *ev)
{
	struct evsink *s = userdata;

	if (s->n < 64)
		s->sids[s->n] = a->sid;
	s->n++;
	free(s->eve);
	s->eve = NULL;
	assert_int_equal(kn_eve_event_alert(&s->eve, a, ev), 0);
}

struct fixture {
	kn_ruleset *rs;
	kn_evdetector *d;
};

static void load(struct fixture *f, const char *text)
{
	soda_error *err = NULL;

	if (kn_ruleset_load_text(&f->rs, "ev.rules", text, strlen(text), NULL, 0, NULL, NULL,
				 &err) < 0)
		fail_msg("%s", soda_error_message(err));
	assert_int_equal(kn_evdetector_new(&f->d, f->rs, &err), 0);
}

static void unload(struct fixture *f)
{
	kn_evdetector_free(f->d);
	kn_ruleset_free(f->rs);
}

static struct kn_event ev(enum kn_event_kind kind, const char *f0, const char *f1,
			  const char *f2, const char *f3, const char *f4)
{
	struct kn_event e = { .kind = kind, .ts_usec = 1700000000000000ull };
	const char *v[KN_EV_MAX_FIELDS] = { f0, f1, f2, f3, f4 };

	for (int i = 0; i < KN_EV_MAX_FIELDS; i++) {
		e.f[i].data = v[i];
		e.f[i].len = v[i] ? strlen(v[i]) : 0;
	}
	return e;
}

/* The sid the event raised, 0 for none; more than one fails. */
static uint32_t one(struct fixture *f, const struct kn_event *e)
{
	struct evsink s = { 0 };
	int r = kn_detect_event(f->d, e, on_alert, &s);

	assert_int_equal(r, (int)s.n);
	free(s.eve);
	if (s.n > 1)
		fail_msg("%zu alerts, first sid %u", s.n, s.sids[0]);
	return s.n ? s.sids[0] : 0;
}

static void test_exec(void **state)
{
	struct fixture f = { 0 };
	struct kn_event e;

	(void)state;
	load(&f, "alert exec any any -> any any (msg:\"shell spawned by named\"; exec.parent; "
		 "content:\"named\"; exec.path; content:\"/bin/sh\"; endswith; sid:1;)\n"
		 "alert exec any any -> any any (msg:\"nc listening\"; exec.path; content:\"/nc\"; "
		 "endswith; exec.argv; content:\"-l\"; sid:2;)\n"
		 "alert exec any any -> any any (msg:\"root in /tmp\"; exec.uid; pcre:\"/^0$/\"; "
		 "exec.cwd; content:\"/tmp\"; startswith; sid:3;)\n");
	e = ev(KN_EV_EXEC, "/bin/sh", "sh -c id", "100", "/", "/usr/sbin/named");
	assert_int_equal(one(&f, &e), 1);
	/* the same program from another parent, or another program from named */
	e = ev(KN_EV_EXEC, "/bin/sh", "sh -c id", "100", "/", "/usr/sbin/sshd");
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_EXEC, "/bin/shred", "shred x", "100", "/", "/usr/sbin/named");
	assert_int_equal(one(&f, &e), 0);
	/* each field is its own buffer: "named" in the path is not the parent */
	e = ev(KN_EV_EXEC, "/named/bin/sh", "sh", "100", "/", "/bin/bash");
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_EXEC, "/usr/bin/nc", "nc -l -p 4444", "0", "/", "/bin/bash");
	assert_int_equal(one(&f, &e), 2);
	e = ev(KN_EV_EXEC, "/usr/bin/nc", "nc 198.51.100.1 80", "0", "/", "/bin/bash");
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_EXEC, "/bin/ls", "ls", "0", "/tmp/.x", "/bin/bash");
	assert_int_equal(one(&f, &e), 3);
	e = ev(KN_EV_EXEC, "/bin/ls", "ls", "10", "/tmp/.x", "/bin/bash");
	assert_int_equal(one(&f, &e), 0);
	/* a field the event lacks matches nothing */
	e = ev(KN_EV_EXEC, "/bin/sh", "sh", "1", "/", NULL);
	assert_int_equal(one(&f, &e), 0);
	unload(&f);
}

static void test_tty(void **state)
{
	struct fixture f = { 0 };
	struct kn_event e;

	(void)state;
	load(&f, "alert tty any any -> any any (msg:\"history wiped\"; tty.input; "
		 "content:\"unset\"; content:\"HISTFILE\"; distance:1; within:9; sid:10;)\n");
	e = ev(KN_EV_TTY, "unset HISTFILE", "1", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 10);
	e = ev(KN_EV_TTY, "echo HISTFILE unset", "1", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 0);
	unload(&f);
}

static void test_file(void **state)
{
	struct fixture f = { 0 };
	struct kn_event e;

	(void)state;
	load(&f, "alert file any any -> any any (msg:\"hosts.deny changed\"; file.path; "
		 "content:\"/etc/hosts.deny\"; startswith; endswith; file.op; content:\"write\"; "
		 "sid:20;)\n"
		 "alert file any any -> any any (msg:\"shadow replaced\"; file.path; "
		 "content:\"/etc/shadow\"; file.op; pcre:\"/^(rename|unlink)$/\"; sid:21;)\n");
	e = ev(KN_EV_FILE, "/etc/hosts.deny", "write", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 20);
	e = ev(KN_EV_FILE, "/etc/hosts.deny.bak", "write", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_FILE, "/etc/shadow", "rename", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 21);
	e = ev(KN_EV_FILE, "/etc/shadow", "write", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 0);
	unload(&f);
}

static void test_net(void **state)
{
	struct fixture f = { 0 };
	struct kn_event e;

	(void)state;
	load(&f, "alert net any any -> any any (msg:\"backdoor port\"; net.op; content:\"listen\"; "
		 "net.port; pcre:\"/^(60008|33567|33568)$/\"; sid:30;)\n"
		 "alert net any any -> any any (msg:\"irc out\"; net.op; content:\"connect\"; "
		 "net.proto; content:\"tcp\"; net.port; content:\"6667\"; startswith; endswith; "
		 "sid:31;)\n");
	e = ev(KN_EV_NET, "listen", "tcp", "0.0.0.0", "60008", NULL);
	assert_int_equal(one(&f, &e), 30);
	e = ev(KN_EV_NET, "listen", "tcp", "0.0.0.0", "600080", NULL);
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_NET, "connect", "tcp", "198.51.100.7", "60008", NULL);
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_NET, "connect", "tcp", "198.51.100.7", "6667", NULL);
	assert_int_equal(one(&f, &e), 31);
	e = ev(KN_EV_NET, "connect", "udp", "198.51.100.7", "6667", NULL);
	assert_int_equal(one(&f, &e), 0);
	unload(&f);
}

static void test_logs(void **state)
{
	struct fixture f = { 0 };
	struct kn_event e;

	(void)state;
	load(&f, "alert syslog any any -> any any (msg:\"ssh brute force\"; syslog.message; "
		 "content:\"Failed password\"; nocase; threshold: type threshold, track by_src, "
		 "count 3, seconds 60; sid:40;)\n"
		 "alert klog any any -> any any (msg:\"promiscuous\"; klog.message; "
		 "content:\"entered promiscuous mode\"; sid:41;)\n");
	e = ev(KN_EV_SYSLOG, "sshd[7]: failed PASSWORD for root", "38", NULL, NULL, NULL);
	/* threshold: every third */
	assert_int_equal(one(&f, &e), 0);
	assert_int_equal(one(&f, &e), 0);
	assert_int_equal(one(&f, &e), 40);
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_SYSLOG, "sshd[7]: Accepted password for root", "38", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 0);
	e = ev(KN_EV_KLOG, "device eth0 entered promiscuous mode", "6", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 41);
	e = ev(KN_EV_KLOG, "device eth0 left promiscuous mode", "6", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 0);
	/* a syslog line with the klog rule's words: kinds do not mix */
	e = ev(KN_EV_SYSLOG, "device eth0 entered promiscuous mode", "6", NULL, NULL, NULL);
	assert_int_equal(one(&f, &e), 0);
	unload(&f);
}

/* Packet rules and event rules in one file: each sees only its own input. */
static void test_packets_apart(void **state)
{
	struct fixture f = { 0 };
	struct kn_packet p = mkpkt(KN_IPPROTO_TCP, "198.51.100.1", 1234, "198.51.100.2", 80,
				   "/bin/sh", 7);
	struct sink s = { 0 };
	kn_detector *pd;
	struct kn_event e = ev(KN_EV_EXEC, "/bin/sh", "sh", "0", "/", "init");

	(void)state;
	load(&f, "alert exec any any -> any any (exec.path; content:\"/bin/sh\"; sid:50;)\n"
		 "alert tcp any any -> any any (content:\"/bin/sh\"; sid:51;)\n");
	assert_int_equal(kn_evdetector_count(f.d), 1);
	assert_int_equal(kn_detector_new(&pd, f.rs, NULL), 0);
	assert_int_equal(kn_detect(pd, &p, sink_alert, &s), 1);
	assert_int_equal(s.sids[0], 51);
	assert_int_equal(one(&f, &e), 50);
	free(s.eve);
	kn_detector_free(pd);
	unload(&f);
}

static void expect_bad(const char *text, const char *at, const char *word)
{
	kn_ruleset *rs = NULL;
	soda_error *err = NULL;
	int r = kn_ruleset_load_text(&rs, "bad.rules", text, strlen(text), NULL, 0, NULL, NULL, &err);

	assert_true(r < 0);
	assert_null(rs);
	assert_int_equal(soda_error_line(err), 1);
	if (soda_error_column(err) != (uint32_t)(strstr(text, at) - text + 1) ||
	    !strstr(soda_error_message(err), word))
		fail_msg("%s: got %u \"%s\"", text, soda_error_column(err), soda_error_message(err));
	soda_error_free(err);
}

static void test_bad_rules(void **state)
{
	(void)state;
	/* content before any field */
	expect_bad("alert exec any any -> any any (content:\"sh\"; sid:1;)", "content",
		   "name the field first");
	/* a field of another kind */
	expect_bad("alert file any any -> any any (exec.path; content:\"x\"; sid:1;)", "exec.path",
		   "not a field of file events");
	/* packet keywords */
	expect_bad("alert tty any any -> any any (tty.input; content:\"x\"; flags:S; sid:1;)",
		   "flags", "does not apply to tty events");
	expect_bad("alert net any any -> any any (net.op; dsize:>3; sid:1;)", "dsize",
		   "does not apply");
	/* a field keyword takes no value */
	expect_bad("alert exec any any -> any any (exec.path:1; sid:1;)", "exec.path",
		   "takes no value");
	/* field keywords are not packet keywords */
	{
		kn_ruleset *rs = NULL;
		soda_error *err = NULL;
		static const char t[] = "alert tcp any any -> any any (exec.path; sid:1;)";

		assert_int_equal(kn_ruleset_load_text(&rs, "bad.rules", t, strlen(t), NULL, 0, NULL,
						      NULL, &err), -EOPNOTSUPP);
		assert_non_null(strstr(soda_error_message(err), "exec.path"));
		soda_error_free(err);
	}
}

/* The prefilter over many rules: each event reaches exactly its rules,
 * whatever field the fast pattern is on, in rule order, and the rules
 * without a fast pattern (only negated contents, none at all) too. */
static void test_prefilter(void **state)
{
	struct fixture f = { 0 };
	char *text = NULL, buf[160];
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	struct evsink s = { 0 };
	struct kn_event e;

	(void)state;
	assert_non_null(m);
	for (int i = 0; i < 600; i++) {
		if (i % 2)
			fprintf(m, "alert exec any any -> any any (exec.path; content:\"/bin/\"; "
				   "exec.argv; content:\"-kx%d-\"; nocase; sid:%d;)\n", i, 1000 + i);
		else
			fprintf(m, "alert exec any any -> any any (exec.cwd; content:\"/srv/kx%d/\"; "
				   "sid:%d;)\n", i, 1000 + i);
	}
	fprintf(m, "alert exec any any -> any any (exec.path; content:!\"/bin/\"; sid:3000;)\n");
	fclose(m);
	load(&f, text);
	free(text);
	e = ev(KN_EV_EXEC, "/bin/ls", "ls -KX301-", "0", "/srv/kx302/", "sh");
	assert_int_equal(kn_detect_event(f.d, &e, on_alert, &s), 2);
	assert_int_equal(s.sids[0], 1301);
	assert_int_equal(s.sids[1], 1302);
	free(s.eve);
	s = (struct evsink){ 0 };
	snprintf(buf, sizeof(buf), "/usr/sbin/x");
	e = ev(KN_EV_EXEC, buf, "x -kx301-", "0", "/", "sh");
	assert_int_equal(kn_detect_event(f.d, &e, on_alert, &s), 1);
	assert_int_equal(s.sids[0], 3000);
	free(s.eve);
	unload(&f);
}

/* What the rules read: the agent gathers only that (the parent's
 * program, inotify, /proc/net cost the guest). A field named by a
 * keyword of any rule of the kind counts, fast pattern or not, negated
 * or not; another kind's fields do not. */
static void test_wants(void **state)
{
	struct fixture f = { 0 };

	(void)state;
	load(&f, "alert exec any any -> any any (exec.path; content:\"/nc\"; endswith; exec.argv; "
		 "content:!\"-h\"; sid:1;)\n"
		 "alert exec any any -> any any (exec.cwd; pcre:\"/^\\/tmp/\"; sid:2;)\n"
		 "alert file any any -> any any (file.op; content:\"unlink\"; sid:3;)\n"
		 "alert tcp any any -> any 80 (content:\"GET\"; sid:4;)\n");
	assert_true(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_F_EXEC_PATH));
	assert_true(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_F_EXEC_ARGV));
	assert_true(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_F_EXEC_CWD));
	assert_false(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_F_EXEC_UID));
	assert_false(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_F_EXEC_PARENT));
	assert_true(kn_evdetector_wants(f.d, KN_EV_FILE, KN_F_FILE_OP));
	assert_false(kn_evdetector_wants(f.d, KN_EV_FILE, KN_F_FILE_PATH));
	assert_false(kn_evdetector_wants(f.d, KN_EV_NET, KN_F_NET_OP));
	assert_false(kn_evdetector_wants(f.d, KN_EV_NONE, 0));
	assert_false(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_EV_MAX_FIELDS));
	assert_false(kn_evdetector_wants(NULL, KN_EV_EXEC, KN_F_EXEC_PATH));
	assert_int_equal(kn_evdetector_count_kind(f.d, KN_EV_EXEC), 2);
	assert_int_equal(kn_evdetector_count_kind(f.d, KN_EV_FILE), 1);
	assert_int_equal(kn_evdetector_count_kind(f.d, KN_EV_NET), 0);
	assert_int_equal(kn_evdetector_count_kind(f.d, KN_EV_KINDS), 0);
	unload(&f);
	/* the rule that names the parent makes the agent look it up */
	load(&f, "alert exec any any -> any any (exec.parent; content:\"named\"; sid:5;)\n");
	assert_true(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_F_EXEC_PARENT));
	assert_false(kn_evdetector_wants(f.d, KN_EV_EXEC, KN_F_EXEC_PATH));
	unload(&f);
}

static void test_eve(void **state)
{
	struct fixture f = { 0 };
	struct evsink s = { 0 };
	/* hostile bytes: a quote, a newline, a NUL inside the field */
	static const char path[] = "/tmp/a\"b\nc\0d";
	struct kn_event e = { .kind = KN_EV_FILE, .ts_usec = 1700000000123456ull,
			      .f = { { path, sizeof(path) - 1 }, { "write", 5 } } };

	(void)state;
	load(&f, "alert file any any -> any any (msg:\"tmp \\\"write\\\"\"; file.path; "
		 "content:\"/tmp/\"; classtype:trojan-activity; sid:60; rev:2;)\n");
	assert_int_equal(kn_detect_event(f.d, &e, on_alert, &s), 1);
	assert_string_equal(s.eve,
			    "{\"timestamp\":\"2023-11-14T22:13:20.123456+0000\",\"event_type\":\"alert\","
			    "\"guest_event\":{\"kind\":\"file\",\"file.path\":\"/tmp/a\\\"b\\u000ac\\u0000d\","
			    "\"file.op\":\"write\"},\"alert\":{\"action\":\"allowed\",\"gid\":1,"
			    "\"signature_id\":60,\"rev\":2,\"signature\":\"tmp \\\"write\\\"\","
			    "\"category\":\"A Network Trojan was detected\",\"severity\":1}}");
	assert_null(strchr(s.eve, '\n'));
	free(s.eve);
	unload(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec),	    cmocka_unit_test(test_tty),
		cmocka_unit_test(test_file),	    cmocka_unit_test(test_net),
		cmocka_unit_test(test_logs),	    cmocka_unit_test(test_packets_apart),
		cmocka_unit_test(test_bad_rules),   cmocka_unit_test(test_eve),
		cmocka_unit_test(test_prefilter),   cmocka_unit_test(test_wants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
