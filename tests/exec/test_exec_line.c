/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exec line's requests and frames (exec_proto.c) and soda-monitor's
 * strict reading of what the guest sends (monitor/exec.c). Each refusal
 * has its well-formed twin accepted (so the check, not something else,
 * refuses it).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testhelp.h"
#include "backends/uml/exec_proto.h"
#include "backends/uml/monitor/exec.h"

static uint8_t frame[SX_HDR + SX_PAYLOAD_MAX];

static size_t mk(uint32_t id, uint16_t type, const void *p, uint32_t len)
{
	sx_put_header(frame, len, id, type);
	memcpy(frame + SX_HDR, p, len);
	return SX_HDR + len;
}

static int feed(uint32_t id, uint16_t type, const void *p, uint32_t len)
{
	return mex_line_input(frame, mk(id, type, p, len));
}

static void test_request_roundtrip(void **state)
{
	static sx_request in, out;
	uint8_t buf[4096];
	char err[200];
	int n;

	(void)state;
	in.argv[0] = "sh";
	in.argv[1] = "-c";
	in.argv[2] = "";
	in.argc = 3;
	in.env[0] = "A=b=c";
	in.envc = 1;
	in.user = "nobody";
	in.cwd = "/tmp";
	in.timeout_ms = 1500;
	in.has_stdin = true;
	n = sx_request_encode(&in, buf, sizeof(buf), err, sizeof(err));
	assert_true(n > 0);
	assert_int_equal(sx_request_decode(&out, buf, (size_t)n, err, sizeof(err)), 0);
	assert_int_equal(out.argc, 3);
	assert_string_equal(out.argv[2], "");
	assert_null(out.argv[3]);
	assert_string_equal(out.env[0], "A=b=c");
	assert_string_equal(out.user, "nobody");
	assert_string_equal(out.cwd, "/tmp");
	assert_int_equal(out.timeout_ms, 1500);
	assert_true(out.has_stdin);
	/* Too big for the room. */
	assert_int_equal(sx_request_encode(&in, buf, 20, err, sizeof(err)), -E2BIG);
	/* Bad fields are named. */
	in.cwd = "tmp";
	assert_int_equal(sx_request_encode(&in, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not absolute"));
	in.cwd = NULL;
	in.env[0] = "=x";
	assert_int_equal(sx_request_encode(&in, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "environment entry 0"));
}

static void test_request_strict(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		int ok;
	} cases[] = {
		{ "a=sh\0", 5, 1 },
		{ "a=sh", 4, 0 },		  /* not NUL-terminated */
		{ "", 0, 0 },			  /* empty */
		{ "e=A=1\0", 6, 0 },		  /* no command */
		{ "a=\0", 3, 0 },		  /* empty command */
		{ "a=sh\0u=x\0u=y\0", 14, 0 },    /* user twice */
		{ "a=sh\0d=rel\0", 11, 0 },       /* relative directory */
		{ "a=sh\0t=0\0", 9, 0 },	  /* zero timeout */
		{ "a=sh\0t=4294967296\0", 18, 0 }, /* past u32 */
		{ "a=sh\0t=12x\0", 11, 0 },
		{ "a=sh\0t=4294967295\0", 18, 1 },
		{ "a=sh\0i=2\0", 9, 0 },
		{ "a=sh\0z=1\0", 9, 0 },	  /* unknown key */
		{ "a=sh\0\0", 6, 0 },		  /* empty word */
		{ "a=sh\0e=noequals\0", 16, 0 },
		{ "a=sh\0a=\0", 8, 1 },		  /* an empty argument after the command */
	};
	static sx_request req;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[64];
		int r;

		memcpy(buf, cases[i].bytes, cases[i].len);
		r = sx_request_decode(&req, buf, cases[i].len, err, sizeof(err));
		if ((r == 0) != cases[i].ok)
			fail_msg("case %zu: %d (%s)", i, r, err);
		if (r < 0)
			assert_non_null(strstr(err, "request"));
	}
}

struct seen {
	int n;
	uint32_t ids[8];
	uint32_t lens[8];
};

static int count_frames(void *ctx, uint32_t id, uint16_t type, const uint8_t *p, uint32_t len)
{
	struct seen *s = ctx;

	(void)type;
	(void)p;
	if (s->n < 8) {
		s->ids[s->n] = id;
		s->lens[s->n] = len;
	}
	s->n++;
	return 0;
}

/* Frames split at every byte arrive whole. */
static void test_feed_split(void **state)
{
	static sx_reader r;
	uint8_t stream[3 * SX_HDR + 10];
	size_t len = 0;
	char err[100];

	(void)state;
	sx_put_header(stream, 4, 7, SX_STDOUT);
	memcpy(stream + SX_HDR, "abcd", 4);
	len = SX_HDR + 4;
	sx_put_header(stream + len, 0, 8, SX_EXIT);
	len += SX_HDR;
	sx_put_header(stream + len, 6, 9, SX_STDERR);
	memcpy(stream + len + SX_HDR, "efghij", 6);
	len += SX_HDR + 6;
	for (size_t cut = 0; cut <= len; cut++) {
		struct seen s = { 0 };

		memset(&r, 0, sizeof(r));
		assert_int_equal(sx_feed(&r, stream, cut, count_frames, &s, err, sizeof(err)), 0);
		assert_int_equal(sx_feed(&r, stream + cut, len - cut, count_frames, &s, err,
					 sizeof(err)),
				 0);
		assert_int_equal(s.n, 3);
		assert_int_equal(s.ids[0], 7);
		assert_int_equal(s.lens[0], 4);
		assert_int_equal(s.ids[1], 8);
		assert_int_equal(s.lens[2], 6);
	}
	/* A header announcing more than the maximum is refused before any of
	 * it is read; so are reserved bits. */
	{
		struct seen s = { 0 };
		uint8_t h[SX_HDR];

		memset(&r, 0, sizeof(r));
		sx_put_header(h, SX_PAYLOAD_MAX + 1, 1, SX_STDOUT);
		assert_int_equal(sx_feed(&r, h, sizeof(h), count_frames, &s, err, sizeof(err)),
				 -EPROTO);
		assert_non_null(strstr(err, "at most"));
		memset(&r, 0, sizeof(r));
		sx_put_header(h, 0, 1, SX_STDOUT);
		h[11] = 1;
		assert_int_equal(sx_feed(&r, h, sizeof(h), count_frames, &s, err, sizeof(err)),
				 -EPROTO);
		assert_int_equal(s.n, 0);
	}
}

/* Each hostile frame breaks the line; its well-formed twin does not. */
static void test_monitor_strict(void **state)
{
	static uint8_t big[SX_PAYLOAD_MAX];
	uint8_t exitp[8 + 4], c4[4];

	(void)state;
#define GOOD(expr)                                                 \
	do {                                                       \
		mex_test_setup(2);                                 \
		assert_int_equal((expr), 0);                       \
		assert_false(mex_line_broken());                   \
	} while (0)
#define BAD(expr)                                                  \
	do {                                                       \
		mex_test_setup(2);                                 \
		assert_int_equal((expr), -EPROTO);                 \
		assert_true(mex_line_broken());                    \
		/* and stays broken */                             \
		assert_int_equal(feed(1, SX_STDOUT, "x", 1), -EPROTO); \
	} while (0)
	GOOD(feed(1, SX_STDOUT, "abc", 3));
	GOOD(feed(2, SX_STDERR, "abc", 3));
	BAD(feed(3, SX_STDOUT, "abc", 3));  /* never issued */
	BAD(feed(0, SX_STDOUT, "abc", 3));
	BAD(feed(999, SX_STDOUT, "abc", 3));
	BAD(feed(1, SX_STDOUT, "", 0));	    /* empty data */
	BAD(feed(1, SX_START, "a=sh", 5));  /* the monitor's type */
	BAD(feed(1, 77, "a", 1));
	/* exits */
	sx_put_u32(exitp, SX_EXITED);
	sx_put_u32(exitp + 4, 255);
	GOOD(feed(1, SX_EXIT, exitp, 8));
	sx_put_u32(exitp + 4, 256);
	BAD(feed(1, SX_EXIT, exitp, 8));
	sx_put_u32(exitp, SX_SIGNALED);
	sx_put_u32(exitp + 4, 9);
	GOOD(feed(1, SX_EXIT, exitp, 8));
	sx_put_u32(exitp + 4, 0);
	BAD(feed(1, SX_EXIT, exitp, 8));
	sx_put_u32(exitp, 4);
	BAD(feed(1, SX_EXIT, exitp, 8));
	sx_put_u32(exitp, SX_EXITED);
	BAD(feed(1, SX_EXIT, exitp, 7));
	BAD(feed(1, SX_EXIT, exitp, 12)); /* text only with NOSTART */
	sx_put_u32(exitp, SX_NOSTART);
	sx_put_u32(exitp + 4, 2);
	memcpy(exitp + 8, "why\n", 4);
	GOOD(feed(1, SX_EXIT, exitp, 12));
	/* An id that ended is the agent's no more. */
	mex_test_setup(2);
	sx_put_u32(exitp, SX_EXITED);
	sx_put_u32(exitp + 4, 0);
	assert_int_equal(feed(1, SX_EXIT, exitp, 8), 0);
	assert_int_equal(feed(2, SX_STDOUT, "x", 1), 0);
	assert_int_equal(feed(1, SX_STDOUT, "x", 1), -EPROTO);
	/* Credit: the test's commands have half the window in flight. */
	sx_put_u32(c4, SX_WINDOW / 2);
	GOOD(feed(1, SX_CREDIT, c4, 4));
	sx_put_u32(c4, SX_WINDOW / 2 + 1);
	BAD(feed(1, SX_CREDIT, c4, 4));
	sx_put_u32(c4, 0);
	BAD(feed(1, SX_CREDIT, c4, 4));
	BAD(feed(1, SX_CREDIT, c4, 3));
	/* The line's acknowledgements: 1000 bytes are out in the test. */
	sx_put_u32(c4, 1000);
	GOOD(feed(0, SX_LINE_ACK, c4, 4));
	sx_put_u32(c4, 1001);
	BAD(feed(0, SX_LINE_ACK, c4, 4));
	sx_put_u32(c4, 10);
	BAD(feed(1, SX_LINE_ACK, c4, 4)); /* not for a command */
	BAD(feed(0, SX_LINE_ACK, c4, 3));
	/* The window: a client that takes everything, so the window comes back
	 * at once. A full frame is fine. */
	GOOD(feed(1, SX_STDOUT, big, SX_PAYLOAD_MAX));
}

/* A client that reads nothing: the monitor holds at most the window for
 * it; the agent's next byte past it breaks the line, not the monitor's
 * memory. */
static void test_monitor_bounded(void **state)
{
	static uint8_t data[SX_DATA_MAX];
	int sv[2], sz = 70000; /* a few messages (doubled by the kernel) */
	size_t sent = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	mex_test_setup(1);
	mex_test_set_client(0, sv[0]);
	/* An agent that ignores credit: it may send the window and what the
	 * client's socket took (given back as credit), then no more. */
	for (;;) {
		int r = feed(1, SX_STDOUT, data, sizeof(data));

		assert_true(mex_held_bytes() <= 2 * SX_WINDOW + 65536);
		if (r < 0) {
			assert_int_equal(r, -EPROTO);
			break;
		}
		sent += sizeof(data);
		assert_true(sent <= 2 * SX_WINDOW);
	}
	print_message("cut off after %zu bytes\n", sent);
	assert_true(mex_line_broken());
	assert_true(sent >= SX_WINDOW);
	mex_test_setup(0);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_roundtrip), cmocka_unit_test(test_request_strict),
		cmocka_unit_test(test_feed_split),	  cmocka_unit_test(test_monitor_strict),
		cmocka_unit_test(test_monitor_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
