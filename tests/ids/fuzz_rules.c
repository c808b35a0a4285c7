/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the Kernort rule parser (and, for what loads, the engine on
 * a few packets). Rule files come from operators and rule feeds: any text
 * must give a ruleset or an error, never a crash or a leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libsoda/ids/detect.h"

static void sink(void *userdata, const struct kn_alert *a, const struct kn_packet *p)
{
	char *eve = NULL;

	if (kn_eve_alert(&eve, a, p) == 0)
		free(eve);
	(*(size_t *)userdata)++;
}

static void warn(void *userdata, const char *msg)
{
	(void)userdata;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pay[] = "GET /admin?id=1337&x=%41 HTTP/1.0\r\n\x00\x01\x00\x02" "abc";
	kn_ruleset *rs = NULL;
	kn_detector *d = NULL;
	soda_error *err = NULL;
	struct kn_flow flow = { .id = 1 };
	struct kn_packet p;
	size_t n = 0;

	if (size > 65536)
		return 0;
	if (kn_ruleset_load_text(&rs, "fuzz", (const char *)data, size, NULL,
				 KN_LOAD_SKIP_UNSUPPORTED, warn, NULL, &err) < 0) {
		soda_error_free(err);
		return 0;
	}
	if (kn_detector_new(&d, rs, NULL) == 0) {
		memset(&p, 0, sizeof(p));
		p.family = 4;
		memcpy(p.src, "\xc6\x33\x64\x01", 4);
		memcpy(p.dst, "\xcb\x00\x71\x02", 4);
		p.ip_proto = 6;
		p.sport = 40000;
		p.dport = 80;
		p.payload = pay;
		p.payload_len = sizeof(pay) - 1;
		p.flow = &flow;
		p.to_server = p.established = true;
		p.tcp_flags = 0x18;
		kn_detect(d, &p, sink, &n);
		p.stream = pay;
		p.stream_len = sizeof(pay) - 1;
		p.stream_new_off = 10;
		kn_detect(d, &p, sink, &n);
		/* the window moved on: absolute positions past its start, the
		 * prefilter's memory of the previous scan */
		p.stream_off = 12;
		p.stream_new_off = sizeof(pay) - 13;
		kn_detect(d, &p, sink, &n);
		p.stream_off = 0;
		p.ip_proto = 17;
		p.stream = NULL;
		kn_detect(d, &p, sink, &n);
		p.ip_proto = 1;
		p.icmp_type = 8;
		kn_detect(d, &p, sink, &n);
		kn_detector_free(d);
	}
	kn_detect_flow_free(flow.detect_state);
	kn_ruleset_free(rs);
	return 0;
}
