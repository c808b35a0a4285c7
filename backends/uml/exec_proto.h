/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exec through the agent (issue 20): the frames soda-monitor and the guest's
 * agent exchange on the exec line (UML ssl3, /dev/ttyS3 in the guest, a
 * socketpair soda-monitor holds), and the messages the library and
 * soda-monitor exchange on an exec connection (the control socket, turned
 * into a stream by the request "exec").
 *
 * Line frame: a 12-byte header, then `len` bytes of payload (at most
 * SX_PAYLOAD_MAX), all integers little-endian:
 *   u32 len, u32 id, u16 type, u16 zero
 * Several commands run at once, told apart by the id soda-monitor gave
 * each (1, 2, ...; never reused while the monitor runs).
 *
 * Flow control: each side may have at most SX_WINDOW bytes of data in
 * flight per command (stdout and stderr together one way, stdin the other);
 * the receiver gives them back with CREDIT frames as it passes them on. So
 * neither side buffers more than SX_WINDOW per command, whatever the other
 * does, and a slow reader slows its own command only.
 *
 * The guest's tty takes at most 4096 bytes unread (N_TTY's buffer); more
 * in one go and UML's serial line stalls and loses bytes. So soda-monitor
 * never has more than SX_LINE_WINDOW bytes on the line that the agent has
 * not acknowledged (LINE_ACK, id 0, as it reads them), whatever the frames'
 * sizes: a large frame goes in pieces.
 *
 * Client message (SOCK_SEQPACKET, one message one frame): u16 type, u16
 * zero, payload (no length, no id).
 */
#ifndef SODA_UML_EXEC_PROTO_H
#define SODA_UML_EXEC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SX_HDR 12
#define SX_PAYLOAD_MAX 65536
#define SX_MSG_HDR 4
#define SX_DATA_MAX 32768  /* data per frame or message */
#define SX_WINDOW (256 * 1024)
#define SX_MAX_EXECS 16    /* commands at once, per server */
#define SX_ARGS_MAX 4096   /* argv and environment words */
#define SX_LINE_WINDOW 3072 /* unacknowledged bytes towards the guest */

enum sx_type {
	/* monitor -> agent (and client -> monitor) */
	SX_START = 1,     /* the request (sx_request_encode) */
	SX_STDIN = 2,     /* data */
	SX_STDIN_EOF = 3, /* no payload */
	SX_KILL = 4,      /* end the command now (line only) */
	SX_CREDIT = 5,    /* u32: bytes the sender may send again (line only) */
	SX_LINE_ACK = 6,  /* agent -> monitor, id 0: u32 bytes read off the line */
	/* agent -> monitor (and monitor -> client) */
	SX_STDOUT = 16,
	SX_STDERR = 17,
	SX_EXIT = 18,     /* u32 kind, u32 value, then optional text */
	SX_ERROR = 19,    /* monitor -> client only: u32 errno, text */
};

/* SX_EXIT kinds */
#define SX_EXITED 0    /* value: the exit status, 0-255 */
#define SX_SIGNALED 1  /* value: the signal */
#define SX_TIMEDOUT 2  /* value: the signal it was killed with */
#define SX_NOSTART 3   /* value: errno (1-4095), text: why */

/* The request. Strings point into the decoded payload (or the caller's). */
typedef struct sx_request {
	const char *argv[SX_ARGS_MAX + 1];
	size_t argc;
	const char *env[SX_ARGS_MAX + 1];
	size_t envc;
	const char *user; /* name or decimal uid; NULL: root */
	const char *cwd;  /* NULL: the user's home, else / */
	uint32_t timeout_ms; /* 0: none */
	bool has_stdin;
} sx_request;

void sx_put_header(uint8_t out[SX_HDR], uint32_t len, uint32_t id, uint16_t type);
uint32_t sx_get_u32(const uint8_t *p);
void sx_put_u32(uint8_t *p, uint32_t v);

/* Encodes @req as NUL-terminated "key=value" words (a=ARG, e=K=V, u=USER,
 * d=DIR, t=MS, i=1) into @out. Returns the length, or -E2BIG when it would
 * pass @max, -EINVAL for a bad field (named in @err). */
int sx_request_encode(const sx_request *req, uint8_t *out, size_t max, char *err,
		      size_t errlen);
/* Decodes (and checks) @len bytes at @buf, which must stay alive and which
 * it changes (no copy). Returns 0 or -EINVAL with @err saying what and
 * where. */
int sx_request_decode(sx_request *req, uint8_t *buf, size_t len, char *err, size_t errlen);

/* Splits a byte stream into frames. */
typedef struct sx_reader {
	uint8_t buf[SX_HDR + SX_PAYLOAD_MAX];
	size_t have;
} sx_reader;

typedef int (*sx_frame_fn)(void *ctx, uint32_t id, uint16_t type, const uint8_t *payload,
			   uint32_t len);

/* Feeds @n bytes; calls @fn once per complete frame. Returns 0, -EPROTO
 * for a bad header (length past SX_PAYLOAD_MAX, reserved bits set; @err
 * says which), or what @fn returned when negative (then stops). */
int sx_feed(sx_reader *r, const uint8_t *data, size_t n, sx_frame_fn fn, void *ctx, char *err,
	    size_t errlen);

#endif
