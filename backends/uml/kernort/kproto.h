/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What soda-monitor and soda-kernort (the IDS at a server's port) say to
 * each other over their SOCK_SEQPACKET pair: one message per datagram, a
 * fixed binary header first. The monitor trusts nothing kernort sends:
 * kernort parses hostile rules and hostile packets, so a message is checked
 * (kind, exact size, NUL-terminated strings) before any field is used
 * (kp_alert_check).
 *
 * soda-kernort starts with these descriptors:
 *   3  the control socket (this protocol)
 *   4  the capture: with argv[1] = KP_CAPTURE_BPF, the BPF ring buffer the
 *      programs at the TAP's tcx hooks fill (bypass.h, KB_RING_SIZE);
 *      without it (kernels before tcx), the AF_PACKET socket bound to the
 *      TAP with its TPACKET_V3 ring set up (KP_BLOCK_*)
 *   5  the rule file (read-only), 6 the variables file or /dev/null
 */
#ifndef SODA_KERNORT_KPROTO_H
#define SODA_KERNORT_KPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KP_FD_CONTROL 3
#define KP_FD_PACKET 4
#define KP_FD_RULES 5
#define KP_FD_VARS 6

#define KP_CAPTURE_BPF "bpf-ring"

/* Ring geometry: 128 blocks of 256 KiB. The kernel hands a block over when
 * it is full or KP_BLOCK_TIMEOUT_MS after its first frame, so a block
 * holds at most that long of traffic: short timeouts with big blocks
 * leave most of the ring unused (1 MiB blocks retired after 1 ms held 32
 * ms of traffic in all, and lost frames whenever kernort was descheduled
 * that long). At a guest's full TCP speed (about 70 MB/s) a block fills
 * in under 4 ms: the ring holds about half a second of it, and 1 s of
 * slower traffic; an alert waits at most 8 ms for its block. */
#define KP_BLOCK_SIZE (256u << 10)
#define KP_BLOCK_COUNT 128u
#define KP_FRAME_SIZE 2048u
#define KP_BLOCK_TIMEOUT_MS 8u

/* Bounds on what a rule file and a variables file may be. */
#define KP_RULES_MAX (16u << 20)
#define KP_VARS_MAX (1u << 20)

enum kp_kind {
	/* monitor -> kernort */
	KP_RELOAD = 1, /* with SCM_RIGHTS: rules fd, vars fd; answered by KP_RESULT */
	KP_STATS = 2,  /* answered by KP_STATS_REPLY */
	KP_CONFIG = 3, /* struct kp_config; not answered */
	/* kernort -> monitor */
	KP_RESULT = 10,      /* of the initial load or a reload */
	KP_STATS_REPLY = 11,
	KP_ALERT = 12,
	KP_BYPASS = 13,      /* struct kp_bypass; not answered */
};

struct kp_header {
	uint32_t kind; /* enum kp_kind */
	uint32_t len;  /* the whole message, header included */
};

struct kp_result {
	struct kp_header h;
	int32_t code;       /* 0 or -errno */
	uint32_t rules;     /* rules loaded (code 0) */
	char message[480];  /* the error, or warnings about skipped rules */
};

/* Capture and detection counters (KP_STATS_REPLY). */
enum {
	KP_ST_PACKETS,        /* frames taken from the ring */
	KP_ST_BYTES,
	KP_ST_DROPS,          /* frames the kernel could not put in the ring */
	KP_ST_FREEZES,        /* ring-full episodes (tp_freeze_q_cnt) */
	KP_ST_ALERTS,
	KP_ST_ALERTS_LOST,    /* alerts the monitor could not take in time */
	KP_ST_RULES,
	KP_ST_RELOADS,
	KP_ST_FLOWS_ACTIVE,
	KP_ST_DECODE_ERRORS,
	KP_ST_BYPASSED_FLOWS, /* flows kernort asked the monitor to bypass */
	KP_ST_MAX
};

struct kp_stats {
	struct kp_header h;
	uint64_t v[KP_ST_MAX];
};

/* The flow bypass (docs/ids.md, "Flow bypass"): once a TCP flow has
 * carried bypass_depth bytes of stream in either direction, kernort asks
 * the monitor (KP_BYPASS_ADD) to have the kernel stop handing it that
 * flow's packets, all but those with SYN, FIN or RST; when the flow ends in
 * kernort's table it asks for the entry's removal (KP_BYPASS_REMOVE).
 * bypass_depth 0: no bypass (the default). */
struct kp_config {
	struct kp_header h;
	uint64_t bypass_depth;
};

enum { KP_BYPASS_ADD = 1, KP_BYPASS_REMOVE = 2 };

struct kp_bypass {
	struct kp_header h;
	uint32_t op;                     /* KP_BYPASS_ADD or KP_BYPASS_REMOVE */
	uint8_t family;                  /* 4 or 6 */
	uint8_t proto;                   /* 6 (TCP) */
	uint16_t client_port, server_port; /* host order */
	uint8_t client[16], server[16];  /* IPv4 in the first 4 bytes */
};

/* Checks a message of @len bytes from kernort as a kp_bypass. Returns 0 or
 * -EPROTO. */
static inline int kp_bypass_check(const void *buf, size_t len)
{
	const struct kp_bypass *b = buf;

	if (len != sizeof(*b) || b->h.kind != KP_BYPASS || b->h.len != len ||
	    (b->op != KP_BYPASS_ADD && b->op != KP_BYPASS_REMOVE) ||
	    (b->family != 4 && b->family != 6) || b->proto != 6)
		return -71; /* EPROTO */
	return 0;
}

/* One alert: metadata in fixed fields, then the EVE JSON line (no
 * newline, not NUL-terminated) up to h.len. */
#define KP_EVE_MAX 8192
struct kp_alert {
	struct kp_header h;
	uint64_t ts_usec;         /* the packet's capture time */
	uint64_t recv_usec;       /* when kernort took the packet from the ring */
	uint32_t gid, sid, rev;
	uint32_t priority;
	uint8_t family;           /* 4 or 6 */
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
	char msg[256];            /* NUL-terminated */
	/* char eve[]; */
};

/* Checks a message from kernort of @len bytes as a kp_alert: the kind, a
 * length within bounds, a terminated msg, a family of 4 or 6. Returns the
 * EVE line's length (>= 0) or -EPROTO. */
static inline long kp_alert_check(const void *buf, size_t len)
{
	const struct kp_alert *a = buf;

	if (len < sizeof(*a) || len > sizeof(*a) + KP_EVE_MAX || a->h.kind != KP_ALERT ||
	    a->h.len != len || (a->family != 4 && a->family != 6))
		return -71; /* EPROTO */
	for (size_t i = 0; i < sizeof(a->msg); i++)
		if (a->msg[i] == '\0')
			return (long)(len - sizeof(*a));
	return -71;
}

#endif
