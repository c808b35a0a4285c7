/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort: one alert as a line of Suricata's EVE JSON.
 *
 * The fields and their spelling are Suricata's: timestamp (microseconds,
 * with the zone offset; we write UTC, +0000), flow_id, pcap_cnt (when
 * known), event_type "alert", src_ip, src_port, dest_ip, dest_port (TCP
 * and UDP), proto as Suricata names it ("TCP", "UDP", "ICMP",
 * "IPv6-ICMP", else the number), icmp_type/icmp_code for ICMP, vlan, and
 * alert {action, gid, signature_id, rev, signature, category, severity}.
 * IPv6 addresses are written as Suricata does: eight groups of four hex
 * digits, no "::" compression. Action: "blocked" for reject, "allowed"
 * otherwise (Suricata says "blocked" for drop only in IPS mode; Kernort
 * only watches).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rule.h"
#include "../util.h"

static void json_str(su_buf *b, const char *s)
{
	su_buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"': su_buf_puts(b, "\\\""); break;
		case '\\': su_buf_puts(b, "\\\\"); break;
		case '\n': su_buf_puts(b, "\\n"); break;
		case '\r': su_buf_puts(b, "\\r"); break;
		case '\t': su_buf_puts(b, "\\t"); break;
		case '\b': su_buf_puts(b, "\\b"); break;
		case '\f': su_buf_puts(b, "\\f"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				su_buf_printf(b, "\\u%04x", *p);
			else if (*p >= 0x80) {
				/* keep valid UTF-8, escape the rest byte by byte */
				size_t n = *p >= 0xf0 && *p < 0xf5 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
				size_t k = 1;

				if (n)
					while (k < n && (p[k] & 0xc0) == 0x80)
						k++;
				if (n && k == n) {
					su_buf_append(b, p, n);
					p += n - 1;
				} else {
					su_buf_printf(b, "\\u%04x", *p);
				}
			} else
				su_buf_append(b, p, 1);
		}
	}
	su_buf_puts(b, "\"");
}

static void addr_str(char *out, size_t len, uint8_t family, const uint8_t *a)
{
	if (family == 4) {
		inet_ntop(AF_INET, a, out, (socklen_t)len);
		return;
	}
	snprintf(out, len, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
		 a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
		 a[13], a[14], a[15]);
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "ICMP";
	case 2: return "IGMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 47: return "GRE";
	case 50: return "ESP";
	case 51: return "AH";
	case 58: return "IPv6-ICMP";
	case 132: return "SCTP";
	default: return NULL;
	}
}

int kn_eve_alert(char **ret, const struct kn_alert *a, const struct kn_packet *p)
{
	su_buf b = { 0 };
	char ts[64], src[64], dst[64];
	struct tm tm;
	time_t secs;
	const char *pn;
	char *s;

	if (!ret || !a || !p)
		return -EINVAL;
	secs = (time_t)(p->ts_usec / 1000000u);
	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	su_buf_printf(&b, "{\"timestamp\":\"%s.%06" PRIu64 "+0000\"", ts, p->ts_usec % 1000000u);
	if (p->flow)
		su_buf_printf(&b, ",\"flow_id\":%" PRIu64, p->flow->id);
	if (p->pcap_cnt)
		su_buf_printf(&b, ",\"pcap_cnt\":%" PRIu64, p->pcap_cnt);
	su_buf_puts(&b, ",\"event_type\":\"alert\"");
	if (p->vlan[0]) {
		su_buf_printf(&b, ",\"vlan\":[%u", p->vlan[0]);
		if (p->vlan[1])
			su_buf_printf(&b, ",%u", p->vlan[1]);
		su_buf_puts(&b, "]");
	}
	if (p->family == 4 || p->family == 6) {
		bool ports = p->ip_proto == KN_IPPROTO_TCP || p->ip_proto == KN_IPPROTO_UDP ||
			     p->ip_proto == 132;

		addr_str(src, sizeof(src), p->family, p->src);
		addr_str(dst, sizeof(dst), p->family, p->dst);
		su_buf_printf(&b, ",\"src_ip\":\"%s\"", src);
		if (ports)
			su_buf_printf(&b, ",\"src_port\":%u", p->sport);
		su_buf_printf(&b, ",\"dest_ip\":\"%s\"", dst);
		if (ports)
			su_buf_printf(&b, ",\"dest_port\":%u", p->dport);
		pn = proto_name(p->ip_proto);
		if (pn)
			su_buf_printf(&b, ",\"proto\":\"%s\"", pn);
		else
			su_buf_printf(&b, ",\"proto\":\"%u\"", p->ip_proto);
		if (p->ip_proto == KN_IPPROTO_ICMP || p->ip_proto == KN_IPPROTO_ICMPV6)
			su_buf_printf(&b, ",\"icmp_type\":%u,\"icmp_code\":%u", p->icmp_type,
				      p->icmp_code);
	}
	if (p->flow)
		su_buf_printf(&b, ",\"direction\":\"%s\"", p->to_server ? "to_server" : "to_client");
	su_buf_printf(&b, ",\"alert\":{\"action\":\"%s\",\"gid\":%" PRIu32 ",\"signature_id\":%"
		      PRIu32 ",\"rev\":%" PRIu32 ",\"signature\":",
		      a->action == KN_ACTION_REJECT ? "blocked" : "allowed", a->gid, a->sid, a->rev);
	json_str(&b, a->msg);
	su_buf_puts(&b, ",\"category\":");
	json_str(&b, a->category ? a->category : "");
	su_buf_printf(&b, ",\"severity\":%" PRIu32 "}}", a->priority);
	s = su_buf_steal(&b);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}
