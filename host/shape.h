/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bandwidth shares on a server's TAP (host side).
 *
 * Frames to the guest leave the host through the TAP's egress: an HTB root
 * (class 1:10 at the inbound rate) shapes them. Frames from the guest enter
 * at the TAP's ingress, where nothing can queue: a BPF classifier redirects
 * them to an IFB device of the server, whose HTB root (class 1:10 at the
 * outbound rate) shapes them before they go on into the bridge. Both BPF
 * programs (bpf/soda_shape.bpf.c) classify into class 1:10 and count bytes,
 * packets and failed redirects per direction in a per-CPU map. Shaping
 * queues rather than drops, which keeps TCP healthy (a policer collapses it,
 * see DESIGN.md).
 *
 * Rates count IP packets (the Ethernet header is left out), so TCP goodput
 * comes to about 96.5 % of the rate with a 1500-byte MTU (1448 bytes of
 * payload per 1500).
 *
 * Everything happens in the network namespace @netns (a path; NULL: the
 * caller's), entered by the calling thread for the duration of the call.
 */
#ifndef SODA_HOST_SHAPE_H
#define SODA_HOST_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

#include "../libsoda/util.h"

typedef struct su_shape_rates {
	uint64_t out_bps;   /* guest -> ; 0: unlimited */
	uint64_t out_burst; /* bytes; 0: default */
	uint64_t in_bps;    /* -> guest ; 0: unlimited */
	uint64_t in_burst;
} su_shape_rates;

typedef struct su_shape_counters {
	uint64_t out_bytes, out_packets, out_drops;
	uint64_t in_bytes, in_packets, in_drops;
} su_shape_counters;

/* True when this build can shape (the BPF object was built). */
bool su_shape_available(void);

/* The IFB name that goes with a TAP name (both at most 15 bytes). */
void su_shape_ifb_name(const char *tap, char out[16]);

/* Sets up shaping on @tap (which must exist) with @rates; replaces what
 * was there. */
int su_shape_attach(const char *netns, const char *tap, const su_shape_rates *rates,
		    soda_error **error);
/* Changes the rates of an attached TAP. */
int su_shape_update(const char *netns, const char *tap, const su_shape_rates *rates,
		    soda_error **error);
/* Removes the IFB and the TAP's qdiscs (a missing TAP is fine). */
int su_shape_detach(const char *netns, const char *tap, soda_error **error);
/* Reads the counters (BPF map plus the HTB qdiscs' drops). */
int su_shape_counters_read(const char *netns, const char *tap, su_shape_counters *ret,
			   soda_error **error);

/* Default burst: 10 ms at the rate, at least two full frames. */
uint64_t su_shape_default_burst(uint64_t bps);

#endif
