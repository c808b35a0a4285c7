/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernort's decoder: frames to kn_packets.
 *
 * Every length comes from the capture or from a header the sender wrote,
 * so every read is checked against the bytes actually there; a frame that
 * is short of what its headers claim is counted (decode_errors) and
 * skipped, never read past. IP fragments are held (bounded: trackers,
 * bytes, pieces, time) and the datagram they make is decoded as one
 * packet; overlapping fragments keep the bytes that came first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "decode_int.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ1 0x9100
#define KN_MAX_VLAN_TAGS 3
#define KN_MAX_EXT_HEADERS 16
#define KN_IP_MAX 65535u

/* Libpcap's DLT numbers (pcap/dlt.h), without needing libpcap here. */
#define DLT_EN10MB 1
#define DLT_RAW_LINUX 12
#define DLT_RAW_OPENBSD 14
#define LINKTYPE_RAW 101
#define DLT_LINUX_SLL 113
#define DLT_IPV4 228
#define DLT_IPV6 229
#define DLT_LINUX_SLL2 276

struct kn_frag {
	struct kn_frag *hnext, *prev, *next;
	uint8_t family, proto; /* proto: IPv4's; IPv6 takes it from the first fragment */
	uint16_t vlan[2];
	uint8_t src[16], dst[16];
	uint32_t id;
	uint32_t bucket;
	uint64_t first_ts;
	bool have_first, have_last;
	uint32_t total;        /* payload bytes, known with the last fragment */
	uint8_t hdr[60];       /* the first fragment's IP header (IPv6: fixed part) */
	uint8_t hdr_len;
	uint8_t v6_next;       /* IPv6: the fragment header's next header */
	struct kn_segs segs;
};

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int kn_link_from_dlt(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
		return KN_LINK_ETHERNET;
	case DLT_RAW_LINUX:
	case DLT_RAW_OPENBSD:
	case LINKTYPE_RAW:
		return KN_LINK_RAW;
	case DLT_IPV4:
		return KN_LINK_IPV4;
	case DLT_IPV6:
		return KN_LINK_IPV6;
	case DLT_LINUX_SLL:
		return KN_LINK_SLL;
	case DLT_LINUX_SLL2:
		return KN_LINK_SLL2;
	default:
		return -EPROTONOSUPPORT;
	}
}

void kn_decode_config_init(struct kn_decode_config *cfg)
{
	*cfg = (struct kn_decode_config){
		.max_flows = 65536,
		.tcp_new_timeout = 60,
		.tcp_est_timeout = 3600,
		.tcp_closed_timeout = 60,
		.other_new_timeout = 30,
		.other_est_timeout = 300,
		.midstream = false,
		.validate_checksums = false,
		.frag_max_trackers = 4096,
		.frag_memcap = 16u << 20,
		.frag_timeout = 60,
		.frag_max_pieces = 256,
		.stream_ooo_max = 256u << 10,
		.stream_ooo_max_segs = 512,
		.stream_memcap = 256u << 20,
	};
}

int kn_decoder_new(kn_decoder **ret, const struct kn_decode_config *cfg)
{
	kn_decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (cfg)
		d->cfg = *cfg;
	else
		kn_decode_config_init(&d->cfg);
	if (d->cfg.max_flows == 0)
		d->cfg.max_flows = 1;
	if (d->cfg.frag_max_trackers == 0)
		d->cfg.frag_max_trackers = 1;
	/* The hash key keeps flooders from choosing colliding tuples. */
	if (getrandom(d->hash_key, sizeof(d->hash_key), GRND_NONBLOCK) != sizeof(d->hash_key)) {
		d->hash_key[0] = (uint64_t)(uintptr_t)d ^ 0x736f6d6570736575ull;
		d->hash_key[1] = (uint64_t)(uintptr_t)&d ^ 0x646f72616e646f6dull;
	}
	uint32_t n = 1;
	while (n < d->cfg.frag_max_trackers && n < (1u << 20))
		n <<= 1;
	d->fbuckets = calloc(n, sizeof(*d->fbuckets));
	d->fbucket_mask = n - 1;
	if (!d->fbuckets || kn_flows_init(d) < 0) {
		free(d->fbuckets);
		free(d);
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

static void frag_free(kn_decoder *d, struct kn_frag *t)
{
	for (struct kn_frag **pp = &d->fbuckets[t->bucket]; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	}
	if (t->prev)
		t->prev->next = t->next;
	else
		d->fhead = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		d->ftail = t->prev;
	d->st.frag_bytes -= t->segs.bytes;
	kn_segs_clear(&t->segs);
	d->nfrags--;
	free(t);
}

void kn_decoder_free(kn_decoder *d)
{
	if (!d)
		return;
	while (d->fhead)
		frag_free(d, d->fhead);
	kn_flows_fini(d);
	free(d->fbuckets);
	free(d->reasm);
	free(d);
}

void kn_decoder_stats(const kn_decoder *d, struct kn_decode_stats *out)
{
	*out = d->st;
}

/* ---- checksums ---- */

static uint32_t sum_bytes(uint32_t sum, const uint8_t *b, size_t len)
{
	while (len > 1) {
		sum += be16(b);
		b += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

static uint16_t sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The transport's checksum including the pseudo-header; 0 when right. */
static uint16_t l4_checksum(const struct kn_packet *p, const uint8_t *l4, size_t len)
{
	uint32_t sum = 0;
	size_t alen = p->family == 4 ? 4 : 16;
	sum = sum_bytes(sum, p->src, alen);
	sum = sum_bytes(sum, p->dst, alen);
	sum += p->ip_proto;
	sum += (uint32_t)(len & 0xffff) + (uint32_t)(len >> 16);
	sum = sum_bytes(sum, l4, len);
	return sum_fold(sum);
}

/* ---- transport ---- */

static void deliver(kn_decoder *d, struct kn_packet *p, kn_packet_fn fn, void *userdata)
{
	if (p->checksum_bad)
		d->st.checksum_bad++;
	kn_flow_packet(d, p);
	d->st.delivered++;
	if (fn)
		fn(userdata, p);
	kn_flow_after(d, p);
}

static int decode_l4(kn_decoder *d, struct kn_packet *p, const uint8_t *b, size_t len,
		     kn_packet_fn fn, void *userdata)
{
	bool check = d->cfg.validate_checksums;
	switch (p->ip_proto) {
	case KN_IPPROTO_TCP: {
		if (len < 20)
			goto bad;
		size_t off = (size_t)(b[12] >> 4) * 4;
		if (off < 20 || off > len)
			goto bad;
		d->st.tcp++;
		p->sport = be16(b);
		p->dport = be16(b + 2);
		p->tcp_seq = be32(b + 4);
		p->tcp_ack = be32(b + 8);
		p->tcp_flags = b[13];
		p->tcp_window = be16(b + 14);
		p->payload = b + off;
		p->payload_len = len - off;
		if (check && l4_checksum(p, b, len) != 0)
			p->checksum_bad = true;
		break;
	}
	case KN_IPPROTO_UDP: {
		if (len < 8)
			goto bad;
		size_t ulen = be16(b + 4);
		if (ulen < 8 || ulen > len)
			goto bad;
		d->st.udp++;
		p->sport = be16(b);
		p->dport = be16(b + 2);
		p->payload = b + 8;
		p->payload_len = ulen - 8;
		/* IPv4 UDP may go without (0); IPv6 may not. */
		if (check && (p->family == 6 || be16(b + 6) != 0) && l4_checksum(p, b, ulen) != 0)
			p->checksum_bad = true;
		break;
	}
	case KN_IPPROTO_ICMP:
	case KN_IPPROTO_ICMPV6:
		if (len < 4)
			goto bad;
		if (p->ip_proto == KN_IPPROTO_ICMP) {
			d->st.icmp++;
			if (check && sum_fold(sum_bytes(0, b, len)) != 0)
				p->checksum_bad = true;
		} else {
			d->st.icmpv6++;
			if (check && l4_checksum(p, b, len) != 0)
				p->checksum_bad = true;
		}
		p->icmp_type = b[0];
		p->icmp_code = b[1];
		p->payload = b + 4;
		p->payload_len = len - 4;
		break;
	default:
		d->st.other_proto++;
		p->payload = b;
		p->payload_len = len;
		break;
	}
	deliver(d, p, fn, userdata);
	return 1;
bad:
	d->st.decode_errors++;
	return 0;
}

/* ---- IP fragments ---- */

static void frags_expire(kn_decoder *d)
{
	while (d->fhead && d->fhead->first_ts + d->cfg.frag_timeout < d->now) {
		d->st.frag_dropped++;
		frag_free(d, d->fhead);
	}
}

static struct kn_frag *frag_find(kn_decoder *d, const struct kn_packet *p, uint32_t id, uint8_t proto)
{
	/* Keyed over addresses and id: a sender choosing ids cannot pile
	 * every datagram into one chain. */
	struct {
		uint8_t src[16], dst[16];
		uint32_t id;
	} hk;
	memcpy(hk.src, p->src, 16);
	memcpy(hk.dst, p->dst, 16);
	hk.id = id;
	uint32_t h = (uint32_t)kn_hash(d->hash_key, &hk, sizeof(hk)) & d->fbucket_mask;
	size_t alen = p->family == 4 ? 4 : 16;
	for (struct kn_frag *t = d->fbuckets[h]; t; t = t->hnext) {
		if (t->id == id && t->family == p->family && (p->family == 6 || t->proto == proto) &&
		    !memcmp(t->src, p->src, alen) && !memcmp(t->dst, p->dst, alen) &&
		    t->vlan[0] == p->vlan[0] && t->vlan[1] == p->vlan[1])
			return t;
	}
	if (d->nfrags >= d->cfg.frag_max_trackers) {
		d->st.frag_dropped++;
		frag_free(d, d->fhead);
	}
	struct kn_frag *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->family = p->family;
	t->proto = proto;
	t->id = id;
	memcpy(t->src, p->src, 16);
	memcpy(t->dst, p->dst, 16);
	memcpy(t->vlan, p->vlan, sizeof(t->vlan));
	t->first_ts = d->now;
	t->bucket = h;
	t->hnext = d->fbuckets[h];
	d->fbuckets[h] = t;
	t->prev = d->ftail;
	if (d->ftail)
		d->ftail->next = t;
	else
		d->fhead = t;
	d->ftail = t;
	d->nfrags++;
	return t;
}

static int decode_ip4(kn_decoder *d, struct kn_packet *p, const uint8_t *b, size_t len,
		      kn_packet_fn fn, void *userdata);
static int decode_ip6(kn_decoder *d, struct kn_packet *p, const uint8_t *b, size_t len,
		      kn_packet_fn fn, void *userdata);

/*
 * Takes in one fragment: data at byte offset off of the datagram's payload,
 * more = more fragments follow. hdr/hdr_len: the IP header to rebuild the
 * datagram with when this is the first fragment. Delivers the datagram
 * when it is whole.
 */
static int frag_take(kn_decoder *d, struct kn_packet *p, uint32_t id, uint8_t proto,
		     const uint8_t *hdr, size_t hdr_len, uint8_t v6_next, uint32_t off,
		     bool more, const uint8_t *data, size_t len, kn_packet_fn fn, void *userdata)
{
	d->st.frag_fragments++;
	size_t max = p->family == 4 ? KN_IP_MAX - hdr_len : KN_IP_MAX;
	if ((size_t)off + len > max || (more && len % 8 != 0) || (len == 0 && more)) {
		d->st.decode_errors++;
		return 0;
	}
	struct kn_frag *t = frag_find(d, p, id, proto);
	if (!t)
		return 0;
	uint32_t end = off + (uint32_t)len;
	if (t->have_last && (end > t->total || (!more && end != t->total)))
		goto drop;
	if (!more) {
		/* Held data past the end makes the datagram a lie. */
		for (struct kn_seg *s = t->segs.head; s; s = s->next)
			if (s->off + s->len > end)
				goto drop;
		t->have_last = true;
		t->total = end;
	}
	if (off == 0 && !t->have_first) {
		t->have_first = true;
		memcpy(t->hdr, hdr, hdr_len);
		t->hdr_len = (uint8_t)hdr_len;
		t->v6_next = v6_next;
	}
	for (;;) {
		size_t room = d->cfg.frag_memcap > d->st.frag_bytes ?
			d->cfg.frag_memcap - d->st.frag_bytes : 0;
		bool overlap = false;
		size_t before = t->segs.bytes;
		int r = kn_segs_insert(&t->segs, off, data, (uint32_t)len, t->segs.bytes + room,
				       d->cfg.frag_max_pieces, &overlap);
		d->st.frag_bytes += t->segs.bytes - before;
		if (r >= 0) {
			if (overlap)
				d->st.frag_overlaps++;
			break;
		}
		/* Out of room: the oldest other datagram goes first. */
		if (r == -ENOBUFS && d->fhead && d->fhead != t &&
		    t->segs.count < d->cfg.frag_max_pieces) {
			d->st.frag_dropped++;
			frag_free(d, d->fhead);
			continue;
		}
		goto drop;
	}
	if (!t->have_first || !t->have_last)
		return 0;
	uint64_t expect = 0;
	for (struct kn_seg *s = t->segs.head; s; s = s->next) {
		if (s->off != expect)
			return 0;
		expect = s->off + s->len;
	}
	if (expect != t->total)
		return 0;

	/* Whole: rebuild it and decode it as one packet. */
	if (!d->reasm && !(d->reasm = malloc(KN_IP_MAX + 60))) {
		d->st.frag_dropped++;
		frag_free(d, t);
		return 0;
	}
	uint8_t *r = d->reasm;
	size_t hl = t->hdr_len;
	memcpy(r, t->hdr, hl);
	for (struct kn_seg *s = t->segs.head; s; s = s->next)
		memcpy(r + hl + s->off, s->data, s->len);
	size_t total = hl + t->total;
	if (t->family == 4) {
		r[2] = (uint8_t)(total >> 8);
		r[3] = (uint8_t)total;
		r[6] &= 0x40; /* keep DF, clear MF and the offset */
		r[7] = 0;
		r[10] = r[11] = 0;
		uint16_t c = sum_fold(sum_bytes(0, r, hl));
		r[10] = (uint8_t)(c >> 8);
		r[11] = (uint8_t)c;
	} else {
		r[4] = (uint8_t)(t->total >> 8);
		r[5] = (uint8_t)t->total;
		r[6] = t->v6_next;
	}
	bool v4 = t->family == 4;
	d->st.frag_reassembled++;
	frag_free(d, t);
	p->reassembled = true;
	return v4 ? decode_ip4(d, p, r, total, fn, userdata) : decode_ip6(d, p, r, total, fn, userdata);
drop:
	d->st.frag_dropped++;
	frag_free(d, t);
	return 0;
}

/* ---- IP ---- */

static int decode_ip4(kn_decoder *d, struct kn_packet *p, const uint8_t *b, size_t len,
		      kn_packet_fn fn, void *userdata)
{
	if (len < 20 || b[0] >> 4 != 4)
		goto bad;
	size_t hl = (size_t)(b[0] & 0x0f) * 4;
	size_t total = be16(b + 2);
	if (hl < 20 || hl > total || total > len)
		goto bad;
	if (!p->reassembled)
		d->st.ipv4++;
	p->family = 4;
	memset(p->src, 0, sizeof(p->src));
	memset(p->dst, 0, sizeof(p->dst));
	memcpy(p->src, b + 12, 4);
	memcpy(p->dst, b + 16, 4);
	p->ttl = b[8];
	p->ip_id = be16(b + 4);
	p->ip_proto = b[9];
	p->ip = b;
	p->ip_len = total;
	if (d->cfg.validate_checksums && sum_fold(sum_bytes(0, b, hl)) != 0)
		p->checksum_bad = true;
	uint16_t fo = be16(b + 6);
	uint32_t off = (uint32_t)(fo & 0x1fff) * 8;
	bool more = fo & 0x2000;
	if ((off || more) && p->checksum_bad) {
		/* A fragment whose header fails its checksum joins nothing. */
		d->st.checksum_bad++;
		return 0;
	}
	if (off || more)
		return frag_take(d, p, p->ip_id, p->ip_proto, b, hl, 0, off, more, b + hl,
				 total - hl, fn, userdata);
	return decode_l4(d, p, b + hl, total - hl, fn, userdata);
bad:
	d->st.decode_errors++;
	return 0;
}

static int decode_ip6(kn_decoder *d, struct kn_packet *p, const uint8_t *b, size_t len,
		      kn_packet_fn fn, void *userdata)
{
	if (len < 40 || b[0] >> 4 != 6)
		goto bad;
	size_t end = 40 + (size_t)be16(b + 4);
	if (end > len || (end == 40 && b[6] == 0))
		goto bad; /* short, or a jumbogram (not taken) */
	if (!p->reassembled)
		d->st.ipv6++;
	p->family = 6;
	memcpy(p->src, b + 8, 16);
	memcpy(p->dst, b + 24, 16);
	p->ttl = b[7];
	p->ip_id = 0;
	p->ip = b;
	p->ip_len = end;
	uint8_t nh = b[6];
	size_t off = 40;
	for (int n = 0;; n++) {
		if (n > KN_MAX_EXT_HEADERS)
			goto bad;
		size_t hl;
		switch (nh) {
		case 0:  /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
			if (off + 2 > end)
				goto bad;
			hl = ((size_t)b[off + 1] + 1) * 8;
			break;
		case 51: /* AH */
			if (off + 2 > end)
				goto bad;
			hl = ((size_t)b[off + 1] + 2) * 4;
			break;
		case 44: { /* fragment */
			if (off + 8 > end)
				goto bad;
			uint16_t fo = be16(b + off + 2);
			uint32_t foff = fo & 0xfff8;
			bool more = fo & 1;
			uint8_t next = b[off];
			if (foff == 0 && !more) { /* an atomic fragment (RFC 6946) */
				nh = next;
				off += 8;
				continue;
			}
			/* A fragment inside a reassembled datagram would recurse
			 * as deep as a sender prepared datagrams: refused. */
			if (p->reassembled)
				goto bad;
			/* The unfragmentable headers are not kept: the datagram
			 * is rebuilt as the fixed header straight followed by
			 * what the fragments carried. */
			p->ip_proto = next;
			return frag_take(d, p, be32(b + off + 4), 0, b, 40, next, foff, more,
					 b + off + 8, end - off - 8, fn, userdata);
		}
		case 59: /* no next header */
			p->ip_proto = 59;
			return decode_l4(d, p, b + end, 0, fn, userdata);
		default:
			p->ip_proto = nh;
			return decode_l4(d, p, b + off, end - off, fn, userdata);
		}
		if (off + hl > end)
			goto bad;
		nh = b[off];
		off += hl;
	}
bad:
	d->st.decode_errors++;
	return 0;
}

static int decode_ether_type(kn_decoder *d, struct kn_packet *p, uint16_t type,
			     const uint8_t *b, size_t len, kn_packet_fn fn, void *userdata)
{
	int tags = 0;
	while (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ1) {
		if (len < 4 || ++tags > KN_MAX_VLAN_TAGS) {
			d->st.decode_errors++;
			return 0;
		}
		if (tags <= 2)
			p->vlan[tags - 1] = be16(b) & 0x0fff;
		type = be16(b + 2);
		b += 4;
		len -= 4;
	}
	switch (type) {
	case ETH_P_IP:
		return decode_ip4(d, p, b, len, fn, userdata);
	case ETH_P_IPV6:
		return decode_ip6(d, p, b, len, fn, userdata);
	default:
		d->st.not_ip++;
		return 0;
	}
}

static int decode_raw(kn_decoder *d, struct kn_packet *p, const uint8_t *b, size_t len,
		      kn_packet_fn fn, void *userdata)
{
	if (len < 1) {
		d->st.decode_errors++;
		return 0;
	}
	switch (b[0] >> 4) {
	case 4:
		return decode_ip4(d, p, b, len, fn, userdata);
	case 6:
		return decode_ip6(d, p, b, len, fn, userdata);
	default:
		d->st.not_ip++;
		return 0;
	}
}

int kn_decode(kn_decoder *d, enum kn_link link, uint64_t ts_usec, uint64_t pcap_cnt,
	      const uint8_t *frame, size_t len, kn_packet_fn fn, void *userdata)
{
	if (link < KN_LINK_ETHERNET || link > KN_LINK_SLL2)
		return -EINVAL;
	d->st.packets++;
	d->st.bytes += len;
	/* Capture time only moves forward (a capture out of order does not
	 * bring flows back). */
	if (ts_usec / 1000000 > d->now) {
		d->now = ts_usec / 1000000;
		frags_expire(d);
		kn_flows_expire(d);
	}
	struct kn_packet p = {
		.ts_usec = ts_usec,
		.pcap_cnt = pcap_cnt,
		.pkt = frame,
		.pkt_len = len,
	};
	switch (link) {
	case KN_LINK_ETHERNET:
		if (len < 14)
			break;
		return decode_ether_type(d, &p, be16(frame + 12), frame + 14, len - 14, fn, userdata);
	case KN_LINK_RAW:
		return decode_raw(d, &p, frame, len, fn, userdata);
	case KN_LINK_IPV4:
		return decode_ip4(d, &p, frame, len, fn, userdata);
	case KN_LINK_IPV6:
		return decode_ip6(d, &p, frame, len, fn, userdata);
	case KN_LINK_SLL:
		if (len < 16)
			break;
		return decode_ether_type(d, &p, be16(frame + 14), frame + 16, len - 16, fn, userdata);
	case KN_LINK_SLL2:
		if (len < 20)
			break;
		return decode_ether_type(d, &p, be16(frame), frame + 20, len - 20, fn, userdata);
	}
	d->st.decode_errors++;
	return 0;
}
