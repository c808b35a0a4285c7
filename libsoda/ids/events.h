/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort on guest events: the rule language on what happens inside a
 * guest (docs/ids.md, "Guest events").
 *
 * The host cannot see into encrypted sessions; inside the guest, what an
 * intruder types and runs is visible as system calls. The guest agent turns
 * them into events (a program started, a line typed on a console, a watched
 * file written, a connect or listen, a syslog or kernel log line) and asks
 * the same ruleset for alerts. An event rule names the event kind where a
 * packet rule names the protocol, and inspects the event's fields as
 * Suricata's sticky buffers:
 *
 *   alert exec any any -> any any (msg:"shell spawned by named";
 *       exec.parent; content:"named"; exec.path; content:"/bin/sh"; sid:1;)
 *
 * Every payload keyword after a field keyword inspects that field, until
 * the next field keyword; the keywords that read packet headers (flags,
 * flow, ttl, dsize...) are refused in event rules. Event rules never see
 * packets and packet rules never see events, so one rule file can hold
 * both.
 *
 * As for packets, a Vectorscan prefilter picks the rules worth
 * evaluating: one literal database per (kind, field) of the fast patterns
 * that rules have on that field; rules without one are always evaluated.
 */
#ifndef SODA_IDS_EVENTS_H
#define SODA_IDS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

/* Event kinds: the rule header's protocol field. */
enum kn_event_kind {
	KN_EV_NONE = 0,   /* a packet rule */
	KN_EV_EXEC,       /* a program started (execve) */
	KN_EV_TTY,        /* a line of console input */
	KN_EV_FILE,       /* a watched file written, created, removed, renamed */
	KN_EV_NET,        /* a socket connected or listening */
	KN_EV_SYSLOG,     /* a syslog message (/dev/log) */
	KN_EV_KLOG,       /* a kernel log line */
	KN_EV_KINDS
};

/* Fields of an event, by kind (the index into kn_event.f). */
enum { KN_F_EXEC_PATH, KN_F_EXEC_ARGV, KN_F_EXEC_UID, KN_F_EXEC_CWD, KN_F_EXEC_PARENT };
enum { KN_F_TTY_INPUT, KN_F_TTY_SESSION };
enum { KN_F_FILE_PATH, KN_F_FILE_OP };
enum { KN_F_NET_OP, KN_F_NET_PROTO, KN_F_NET_ADDR, KN_F_NET_PORT };
enum { KN_F_SYSLOG_MESSAGE, KN_F_SYSLOG_PRIORITY };
enum { KN_F_KLOG_MESSAGE, KN_F_KLOG_LEVEL };
#define KN_EV_MAX_FIELDS 5

/* One event. Fields are borrowed for the call; a field the event does not
 * have is empty (len 0), and no payload keyword matches an empty field. */
struct kn_event {
	enum kn_event_kind kind;
	uint64_t ts_usec;            /* wall clock, microseconds since the epoch */
	uint32_t uid;                /* threshold's track by_src/by_dst key */
	struct {
		const char *data;
		size_t len;
	} f[KN_EV_MAX_FIELDS];
};

/* The kind a rule header's protocol names (case-insensitive), or
 * KN_EV_NONE. */
enum kn_event_kind kn_event_kind_lookup(const char *name);
const char *kn_event_kind_name(enum kn_event_kind kind);
/* A field keyword ("exec.path"): its index + 1 for @kind, 0 when @name is
 * no field keyword at all, -1 when it is a field of another kind. */
int kn_event_field_lookup(enum kn_event_kind kind, const char *name);
/* "exec.path" for (KN_EV_EXEC, KN_F_EXEC_PATH); NULL out of range. */
const char *kn_event_field_name(enum kn_event_kind kind, unsigned int field);
/* The field keywords of @kind, comma-separated, for error messages. */
const char *kn_event_fields_of(enum kn_event_kind kind);
/* Whether a rule keyword may appear in an event rule (meta, payload,
 * threshold keywords: yes; packet header keywords: no). */
bool kn_event_keyword_ok(const char *kw);

typedef struct kn_evdetector kn_evdetector;

typedef void (*kn_event_alert_fn)(void *userdata, const struct kn_alert *alert,
				  const struct kn_event *event);

/* A detector for the event rules of @rs (which it borrows: free the
 * detector first). 0, -EINVAL, -ENOMEM with *error set. */
int kn_evdetector_new(kn_evdetector **ret, const kn_ruleset *rs, soda_error **error);
void kn_evdetector_free(kn_evdetector *d);
/* Event rules in the ruleset, all kinds. */
size_t kn_evdetector_count(const kn_evdetector *d);
/* Event rules of @kind: 0 tells the caller it need not gather such events. */
size_t kn_evdetector_count_kind(const kn_evdetector *d, enum kn_event_kind kind);
/* Whether some rule of @kind inspects @field (KN_F_*): a field that costs
 * the caller work (a system call) and that no rule reads may be left empty,
 * and filled in only for an alert's record. */
bool kn_evdetector_wants(const kn_evdetector *d, enum kn_event_kind kind, unsigned int field);

/* Evaluates the rules of the event's kind that the prefilter lets through,
 * in rule order (pass ends the evaluation, as for packets), calling alert for each match that passes
 * threshold/detection_filter. Returns the number of alerts or -EINVAL. */
int kn_detect_event(kn_evdetector *d, const struct kn_event *ev, kn_event_alert_fn alert,
		    void *userdata);

/* One EVE-like JSON line (no newline) for an alert on an event: timestamp,
 * event_type "alert", guest_event {kind, and each non-empty field by its
 * keyword}, alert {...} as kn_eve_alert(). The caller frees *ret. */
int kn_eve_event_alert(char **ret, const struct kn_alert *alert, const struct kn_event *ev);

/* ---- hooks for the engine (rules.c, detect.c) ---- */

struct kn_op;
/* Runs ops[0..n) on buf (detect.c's inspection): 1 match, 0 none, -1 the
 * inspection budget ran out. */
int kn_inspect_ops(const struct kn_op *ops, size_t n, const uint8_t *buf, size_t len,
		   void *pcre2_match_data, void *pcre2_match_context);

#endif
