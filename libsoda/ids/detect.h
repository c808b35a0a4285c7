/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: the detection engine's interface (rules in, alerts out).
 *
 * A kn_ruleset is compiled once (parse, resolve variables, build the
 * Vectorscan prefilter) and then only read by kn_detect(), so one
 * ruleset can serve several decoders; a reload builds a new ruleset and
 * swaps the pointer. Per-flow state (flowbits) lives in
 * kn_flow.detect_state; per-rule state (thresholds, detection_filter,
 * match counters) lives in a kn_detector made from the ruleset, one per
 * thread of packets.
 */
#ifndef SODA_IDS_DETECT_H
#define SODA_IDS_DETECT_H

#include <stdio.h>

#include <soda/common.h>

#include "packet.h"

typedef struct kn_vars kn_vars;
typedef struct kn_ruleset kn_ruleset;
typedef struct kn_detector kn_detector;

enum kn_action {
	KN_ACTION_ALERT,
	KN_ACTION_PASS,
	KN_ACTION_DROP,
	KN_ACTION_REJECT,
	KN_ACTION_LOG,
};

/* Load flags. */
enum {
	KN_LOAD_SKIP_UNSUPPORTED = 1u << 0, /* skip rules with unsupported keywords, warn */
};

/* Variables ($HOME_NET ...): Suricata's shipped defaults, overridable.
 * kn_vars_load() reads "NAME VALUE" lines (also YAML-ish "NAME: VALUE"). */
int kn_vars_new(kn_vars **ret);
int kn_vars_set(kn_vars *v, const char *name, const char *value, soda_error **error);
int kn_vars_load(kn_vars *v, const char *path, soda_error **error);
void kn_vars_free(kn_vars *v);

/* Warnings (skipped rules) go to warn(userdata, message) when given. */
typedef void (*kn_warn_fn)(void *userdata, const char *message);

/* Parses rules (docs/ids.md) with vars (NULL: Suricata's defaults) and
 * builds the prefilter. 0 and *ret on success; -EINVAL with the source,
 * line, column and keyword in *error for a bad rule; -EOPNOTSUPP naming
 * the keyword and sid for one outside the subset (without
 * KN_LOAD_SKIP_UNSUPPORTED; with it the rule is skipped and warn() told);
 * -ENOENT/-EIO for the file; -ENOMEM. */
int kn_ruleset_load_file(kn_ruleset **ret, const char *path, const kn_vars *vars,
			 unsigned int flags, kn_warn_fn warn, void *userdata,
			 soda_error **error);
int kn_ruleset_load_text(kn_ruleset **ret, const char *source_name, const char *text,
			 size_t len, const kn_vars *vars, unsigned int flags,
			 kn_warn_fn warn, void *userdata, soda_error **error);
size_t kn_ruleset_count(const kn_ruleset *rs);
void kn_ruleset_free(kn_ruleset *rs);

struct kn_alert {
	enum kn_action action;
	uint32_t gid, sid, rev;
	uint32_t priority;        /* severity in EVE; from priority or classtype */
	const char *msg;          /* borrowed from the ruleset */
	const char *classtype;    /* may be NULL */
	const char *category;     /* classtype's description; may be NULL */
};

typedef void (*kn_alert_fn)(void *userdata, const struct kn_alert *alert,
			    const struct kn_packet *packet);

int kn_detector_new(kn_detector **ret, const kn_ruleset *rs, soda_error **error);
void kn_detector_free(kn_detector *d);

/* Evaluates every candidate rule on the packet and calls alert for each
 * match (after thresholds, detection_filter and flowbits noalert). */
/* Returns the number of alerts (0 for a packet that is not IP), -EINVAL,
 * or -ENOMEM (flowbits could not be stored). The packet's flow gets its
 * flowbits in detect_state. Not thread-safe per detector. */
int kn_detect(kn_detector *d, struct kn_packet *p, kn_alert_fn alert, void *userdata);

/* Tests only: the prefilter scans every stream window whole and the
 * exact match searches every content over the whole buffer, as before the
 * single scan (the reference it is checked against). */
void kn_detector_reference_mode(kn_detector *d, bool on);

/* Frees what the engine kept in a flow's detect_state. */
void kn_detect_flow_free(void *detect_state);

/* Per-rule match counts: calls fn for each rule with a count > 0. */
void kn_detector_counts(const kn_detector *d,
			void (*fn)(void *userdata, uint32_t gid, uint32_t sid, uint64_t count),
			void *userdata);

/* One EVE JSON alert line (no newline), Suricata's field names; the
 * caller frees *ret. */
int kn_eve_alert(char **ret, const struct kn_alert *alert, const struct kn_packet *p);

#endif
