/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort detection: the compiled form of a rule, shared by the parser
 * (rules.c, header.c), the ruleset builder (ruleset.c), the matcher
 * (detect.c, threshold.c) and the EVE writer. Internal: the decoder never
 * sees it.
 *
 * A rule is a header (protocol, address and port trees, direction), a
 * list of packet tests (flags, ttl, dsize, flow, flowbits checks...) whose
 * order does not matter, and a list of payload operations (content, pcre,
 * isdataat, byte_test, byte_jump) evaluated in rule order with a cursor,
 * so that relative operations see the end of the one before.
 */
#ifndef SODA_IDS_RULE_H
#define SODA_IDS_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "detect.h"

/* ---- header ---- */

/* An address set: a list of items, each a range of one family, "any", or
 * a nested list; each possibly negated. A list matches when (it has no
 * positive item, or a positive item matches) and no negated item matches. */
struct kn_addr_item {
	bool neg, any;
	uint8_t family;            /* 4 or 6 for a range */
	uint8_t lo[16], hi[16];    /* inclusive, network order */
	struct kn_addr_list *sub;  /* a nested list (or a variable's value) */
};
struct kn_addr_list {
	size_t n;
	struct kn_addr_item *items;
};

struct kn_port_item {
	bool neg, any;
	uint16_t lo, hi;
	struct kn_port_list *sub;
};
struct kn_port_list {
	size_t n;
	struct kn_port_item *items;
};

/* Protocol classes of the rule header. */
enum kn_rproto {
	KN_RP_IP,
	KN_RP_TCP,
	KN_RP_UDP,
	KN_RP_ICMP,    /* ICMPv4 and ICMPv6, as Suricata's "icmp" */
	KN_RP_ICMPV4,
	KN_RP_ICMPV6,
};

/* ---- integer comparisons (dsize, ttl, itype, icode, window, ip_proto...) ---- */

enum kn_cmp { KN_EQ, KN_NE, KN_LT, KN_LE, KN_GT, KN_GE, KN_RANGE /* lo < x < hi */ };
struct kn_intcmp {
	enum kn_cmp op;
	uint64_t a, b;
};

/* ---- payload operations ---- */

enum kn_op_type { KN_OP_CONTENT, KN_OP_PCRE, KN_OP_ISDATAAT, KN_OP_BYTE_TEST, KN_OP_BYTE_JUMP,
		  KN_OP_BYTE_EXTRACT };

/* byte_extract variables per rule; a reference is the index + 1 (0: none). */
#define KN_MAX_BYTE_VARS 8

enum {
	KN_C_NOCASE = 1u << 0,
	KN_C_NEGATED = 1u << 1,
	KN_C_OFFSET = 1u << 2,
	KN_C_DEPTH = 1u << 3,
	KN_C_DISTANCE = 1u << 4,
	KN_C_WITHIN = 1u << 5,
	KN_C_FAST = 1u << 6,
	KN_C_FAST_ONLY = 1u << 7,
	KN_C_FAST_CHOP = 1u << 8,
	KN_C_STARTSWITH = 1u << 9,
	KN_C_ENDSWITH = 1u << 10,
	KN_C_RAWBYTES = 1u << 11,
};

struct kn_content {
	uint8_t *pat;
	size_t len;
	uint32_t flags;
	int32_t offset, depth;     /* absolute; depth counts from offset */
	int32_t distance, within;  /* relative to the cursor */
	uint32_t fp_off, fp_len;   /* fast_pattern:o,l */
	uint8_t v_offset, v_depth, v_distance, v_within; /* byte_extract refs */
};

enum {
	KN_PCRE_RELATIVE = 1u << 0,
	KN_PCRE_NEGATED = 1u << 1,
	KN_PCRE_ANCHORED = 1u << 2, /* matches only at the subject's start (^, \A, /A) */
};
struct kn_pcre {
	pcre2_code *code;
	uint32_t flags;
};

enum {
	KN_B_RELATIVE = 1u << 0,
	KN_B_LITTLE = 1u << 1,
	KN_B_STRING = 1u << 2,
	KN_B_ALIGN = 1u << 3,
	KN_B_BEGIN = 1u << 4,
	KN_B_END = 1u << 5,
	KN_B_NEGATED = 1u << 6,  /* isdataat:!, byte_test:!op */
	KN_B_BITMASK = 1u << 7,
};
enum kn_bt_op { KN_BT_LT, KN_BT_GT, KN_BT_EQ, KN_BT_AND, KN_BT_OR, KN_BT_LE, KN_BT_GE };

struct kn_bytes {
	uint32_t flags;
	uint32_t nbytes;          /* byte_test, byte_jump */
	int32_t offset;           /* isdataat: the position */
	int base;                 /* strtoull base for string: 0, 8, 10, 16 */
	enum kn_bt_op op;
	uint64_t value;           /* byte_test */
	uint64_t bitmask;
	uint32_t multiplier;      /* byte_jump, byte_extract */
	int32_t post_offset;
	uint32_t align;           /* byte_extract: 0, 2 or 4 */
	uint8_t var;              /* byte_extract: the variable it sets (index) */
	uint8_t v_nbytes, v_value, v_offset; /* byte_extract refs */
};

struct kn_op {
	enum kn_op_type type;
	bool relative;            /* uses the cursor */
	uint8_t field;            /* event rules: the field it inspects + 1 (events.h) */
	union {
		struct kn_content c;
		struct kn_pcre re;
		struct kn_bytes b;
	} u;
};

/* ---- flowbits ---- */

enum kn_fb_cmd { KN_FB_SET, KN_FB_UNSET, KN_FB_TOGGLE, KN_FB_ISSET, KN_FB_ISNOTSET };
struct kn_flowbit {
	enum kn_fb_cmd cmd;
	bool any;                 /* a|b: one of the names (isset/isnotset) */
	size_t n;
	uint64_t *names;          /* hashes of the names */
};

/* ---- thresholds ---- */

enum kn_th_type { KN_TH_NONE, KN_TH_LIMIT, KN_TH_THRESHOLD, KN_TH_BOTH, KN_TH_DETECTION };
enum kn_th_track { KN_TRACK_SRC, KN_TRACK_DST, KN_TRACK_RULE, KN_TRACK_BOTH, KN_TRACK_FLOW };
struct kn_threshold {
	enum kn_th_type type;
	enum kn_th_track track;
	uint32_t count;
	uint32_t seconds;
};

/* ---- flow keyword ---- */

enum {
	KN_FLOW_ESTABLISHED = 1u << 0,
	KN_FLOW_NOT_ESTABLISHED = 1u << 1,
	KN_FLOW_TO_SERVER = 1u << 2,
	KN_FLOW_TO_CLIENT = 1u << 3,
	KN_FLOW_ONLY_STREAM = 1u << 4,
	KN_FLOW_NO_STREAM = 1u << 5,
	KN_FLOW_STATELESS = 1u << 6,
};

/* TCP flags keyword. */
enum kn_flags_mod { KN_FLAGS_EXACT, KN_FLAGS_PLUS, KN_FLAGS_ANY, KN_FLAGS_NOT };

/* Which packet tests a rule has. */
enum {
	KN_T_DSIZE = 1u << 0,
	KN_T_TTL = 1u << 1,
	KN_T_ITYPE = 1u << 2,
	KN_T_ICODE = 1u << 3,
	KN_T_IPPROTO = 1u << 4,
	KN_T_ACK = 1u << 5,
	KN_T_SEQ = 1u << 6,
	KN_T_WINDOW = 1u << 7,
	KN_T_ID = 1u << 8,
	KN_T_SAMEIP = 1u << 9,
	KN_T_FLAGS = 1u << 10,
	KN_T_FLOW = 1u << 11,
	KN_T_ICMP_ID = 1u << 12,
	KN_T_ICMP_SEQ = 1u << 13,
	KN_T_TOS = 1u << 14,
	KN_T_FRAGBITS = 1u << 15,
	KN_T_FRAGOFFSET = 1u << 16,
};

/* IPv4 fragment bits (of the flags/offset word) for fragbits. */
enum { KN_FRAG_RB = 0x8000, KN_FRAG_DF = 0x4000, KN_FRAG_MF = 0x2000 };

struct kn_rule {
	enum kn_action action;
	enum kn_rproto proto;
	uint8_t event;             /* kn_event_kind (events.h); 0: a packet rule */
	struct kn_addr_list src, dst;
	struct kn_port_list sport, dport;
	bool bidir;

	uint32_t gid, sid, rev;
	int32_t priority;          /* -1 until set */
	char *msg;
	const struct kn_classtype *classtype;

	uint32_t tests;            /* KN_T_* */
	struct kn_intcmp dsize, ttl, itype, icode, ipproto, window, ipid, icmp_id, icmp_seq, tos,
		fragoffset;
	uint16_t fragbits;
	enum kn_flags_mod fragbits_mod;
	uint32_t ack, seq;
	uint8_t flags, flags_mask; /* flags_mask: bits to ignore */
	enum kn_flags_mod flags_mod;
	uint32_t flow;             /* KN_FLOW_* */

	struct kn_op *ops;
	size_t n_ops;
	bool has_content;          /* a positive content or pcre: needs a buffer */

	struct kn_flowbit *fbs;
	size_t n_fbs;
	bool noalert;

	struct kn_threshold threshold, detection_filter;

	int fp_content;            /* index in ops of the fast pattern, -1 none */
	bool fp_alone;             /* the fast pattern's content is the only operation */
	uint32_t line;             /* where the rule starts, for messages */
	size_t load_order;
};

/* ---- classtypes (classtype.c) ---- */

struct kn_classtype {
	const char *name;
	const char *description;
	uint32_t priority;
};
const struct kn_classtype *kn_classtype_find(const char *name);

/* ---- variables (vars.c) ---- */

/* The value of a variable (name without '$'), or NULL. */
const char *kn_vars_get(const kn_vars *v, const char *name);

/* ---- header (header.c) ---- */

/* Parse an address or port specification, resolving variables; on error
 * a message in *msg (static or from the caller's buffer). */
int kn_addr_parse(struct kn_addr_list *ret, const char *text, const kn_vars *vars,
		  char *msg, size_t msglen);
int kn_port_parse(struct kn_port_list *ret, const char *text, const kn_vars *vars,
		  char *msg, size_t msglen);
void kn_addr_list_clear(struct kn_addr_list *l);
void kn_port_list_clear(struct kn_port_list *l);
bool kn_addr_match(const struct kn_addr_list *l, uint8_t family, const uint8_t *addr);
bool kn_port_match(const struct kn_port_list *l, uint16_t port);
bool kn_port_is_any(const struct kn_port_list *l);

/* ---- rules (rules.c) ---- */

struct kn_parse_ctx {
	const char *source;
	const kn_vars *vars;
	unsigned int flags;
	kn_warn_fn warn;
	void *userdata;
};

/* Parses one logical rule (continuations joined). pos maps each byte of
 * text to (line, column) in the source. Returns 0 with *ret set, 1 when
 * the rule was skipped (unsupported keyword with KN_LOAD_SKIP_UNSUPPORTED,
 * warned), or -errno with *error set. */
struct kn_srcpos {
	uint32_t line, col;
};
int kn_rule_parse(struct kn_rule **ret, const struct kn_parse_ctx *ctx, const char *text,
		  size_t len, const struct kn_srcpos *pos, soda_error **error);
void kn_rule_free(struct kn_rule *r);

uint64_t kn_flowbit_hash(const char *name, size_t len);

/* ---- the ruleset (ruleset.c) ---- */

struct kn_ruleset {
	struct kn_rule **rules;    /* in evaluation order */
	size_t n_rules;
	/* Rules each protocol class must always evaluate (no fast pattern):
	 * indices into rules, ascending. */
	uint32_t *always[5];
	size_t n_always[5];
	/* The prefilter: pattern id -> rules (ascending). */
	void *hs_db;               /* hs_database_t */
	uint32_t **pat_rules;
	uint32_t *pat_n;
	size_t n_pats;
	size_t max_pat_len;        /* the longest fast pattern the prefilter holds */
	pcre2_match_context *mctx;
	uint32_t max_ovector;
	size_t n_thresholded;      /* rules with threshold/detection_filter */
};

/* Protocol class of a packet, index into always[]. */
enum { KN_PC_TCP, KN_PC_UDP, KN_PC_ICMP, KN_PC_ICMPV6, KN_PC_OTHER };

/* ---- thresholds (threshold.c) ---- */

struct kn_thstate;
int kn_thstate_new(struct kn_thstate **ret);
void kn_thstate_free(struct kn_thstate *t);
/* Whether rule (index) may alert for p under th (updates the state). */
bool kn_threshold_check(struct kn_thstate *t, uint32_t rule, const struct kn_threshold *th,
			const struct kn_packet *p);

#endif
