/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libsoda-nft: the switch's nftables plugin (see libsoda/network/nft_ops.h for the layout).
 *
 * This unit links libnftnl (GPL-2.0-or-later) and is therefore GPL itself;
 * libsoda (LGPL) loads it at run time with dlopen() and talks to it only
 * through the versioned table in nft_ops.h.
 *
 * Copyright (C) the libsoda authors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_bridge.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libsoda/network/nft_ops.h"

#define EXPORT __attribute__((visibility("default")))

#ifndef SODA_VERSION_STRING
#define SODA_VERSION_STRING "unknown"
#endif

/* nftables' datatype numbers, so that `nft list` shows the sets readably. */
enum { T_VERDICT = 1, T_IPADDR = 7, T_IP6ADDR = 8, T_ETHERADDR = 9, T_PROTO = 12,
       T_SERVICE = 13, T_MARK = 19, T_IFNAME = 41 };
#define TYPE_BITS 6

/* Registers: 16-byte NFT_REG_1..4 overlap the 4-byte NFT_REG32_00..15. */
#define R0 NFT_REG32_00

static int seterr(su_nft_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int seterr(su_nft_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (code >= 0)
		code = -EIO;
	if (err && !err->code) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- batches ---- */

#define BATCH_PAGE (2u * 1024 * 1024)
#define MSG_MAX (65536u + 4096u)

typedef struct batch {
	struct nftnl_batch *b;
	uint32_t seq0, seq;
	char **what; /* what message seq0 + i does, for error messages */
	size_t n_what, cap_what;
	bool oom;
} batch;

static int batch_init(batch *b)
{
	memset(b, 0, sizeof(*b));
	b->b = nftnl_batch_alloc(BATCH_PAGE, MSG_MAX);
	if (!b->b)
		return -ENOMEM;
	b->seq0 = b->seq = 1;
	nftnl_batch_begin(nftnl_batch_buffer(b->b), b->seq++);
	if (nftnl_batch_update(b->b) < 0)
		b->oom = true;
	return 0;
}

static void batch_free(batch *b)
{
	if (b->b)
		nftnl_batch_free(b->b);
	for (size_t i = 0; i < b->n_what; i++)
		free(b->what[i]);
	free(b->what);
	memset(b, 0, sizeof(*b));
}

/* Starts a message; note() names it afterwards. */
static struct nlmsghdr *msg(batch *b, uint16_t type, uint16_t family, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->b), type, family, flags, b->seq++);
}

static void note(batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(batch *b, const char *fmt, ...)
{
	size_t idx = b->seq - 1 - b->seq0;
	va_list ap;
	char *s = NULL;

	if (nftnl_batch_update(b->b) < 0)
		b->oom = true;
	if (idx >= b->cap_what) {
		size_t cap = b->cap_what ? b->cap_what * 2 : 256;
		char **w;

		while (cap <= idx)
			cap *= 2;
		w = realloc(b->what, cap * sizeof(char *));
		if (!w) {
			b->oom = true;
			return;
		}
		memset(w + b->cap_what, 0, (cap - b->cap_what) * sizeof(char *));
		b->what = w;
		b->cap_what = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(b->what[idx]);
	b->what[idx] = s;
	if (idx + 1 > b->n_what)
		b->n_what = idx + 1;
}

static const char *what_of(const batch *b, uint32_t seq)
{
	size_t idx = seq - b->seq0;

	if (seq < b->seq0 || idx >= b->n_what || !b->what[idx])
		return "a message of the batch";
	return b->what[idx];
}

struct ack_state {
	const batch *b;
	su_nft_err *err;
	int first;
};

static int ack_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int t = mnl_attr_get_type(a);

	if (t >= 0 && t <= NLMSGERR_ATTR_MAX)
		tb[t] = a;
	return MNL_CB_OK;
}

static void ack_error(struct ack_state *st, const struct nlmsghdr *h)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
	const char *ext = NULL;
	unsigned hlen = sizeof(*e);

	if (h->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || e->error == 0)
		return;
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		hlen += mnl_nlmsg_get_payload_len(&e->msg);
	if (h->nlmsg_flags & NLM_F_ACK_TLVS &&
	    mnl_attr_parse(h, hlen, ack_attr_cb, tb) == MNL_CB_OK && tb[NLMSGERR_ATTR_MSG] &&
	    mnl_attr_validate(tb[NLMSGERR_ATTR_MSG], MNL_TYPE_STRING) == 0)
		ext = mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]);
	if (!st->first) {
		st->first = e->error;
		seterr(st->err, e->error, "nftables refused %s: %s%s%s", what_of(st->b, e->msg.nlmsg_seq),
		       strerror(-e->error), ext ? " - " : "", ext ? ext : "");
	}
}

/* The socket is the caller's and may be used again: whatever an earlier,
 * interrupted exchange left unread goes before a new one starts. */
static void drain(int fd)
{
	char buf[8192];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == EINTR || errno == ENOBUFS)
		;
}

/* Sends the whole batch in one sendmsg() (one batch is one transaction only
 * when the kernel gets it in one piece) and reads the errors. The kernel
 * handles the batch during sendmsg(), so every answer is queued by the
 * time it returns. Without @commit the batch has no end marker: the kernel
 * checks each message, then aborts the transaction. */
static int batch_send(int fd, batch *b, bool commit, su_nft_err *err)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct ack_state st = { b, err, 0 };
	struct msghdr mh = { 0 };
	struct iovec *iov;
	int n_iov, one = 1, bufsize;
	uint32_t total = 0;
	ssize_t sent;
	char *rbuf;

	if (commit) {
		nftnl_batch_end(nftnl_batch_buffer(b->b), b->seq++);
		if (nftnl_batch_update(b->b) < 0)
			b->oom = true;
	}
	if (b->oom)
		return seterr(err, -ENOMEM, "out of memory building the nftables batch");
	n_iov = nftnl_batch_iovec_len(b->b);
	iov = calloc((size_t)n_iov, sizeof(*iov));
	rbuf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	if (!iov || !rbuf) {
		free(iov);
		free(rbuf);
		return seterr(err, -ENOMEM, "out of memory");
	}
	nftnl_batch_iovec(b->b, iov, (uint32_t)n_iov);
	for (int i = 0; i < n_iov; i++)
		total += (uint32_t)iov[i].iov_len;
	/* The socket must take the batch in one piece. */
	bufsize = (int)(total + BATCH_PAGE);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	bufsize = 4 * 1024 * 1024;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	mh.msg_name = &kernel;
	mh.msg_namelen = sizeof(kernel);
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n_iov;
	drain(fd);
	do
		sent = sendmsg(fd, &mh, 0);
	while (sent < 0 && errno == EINTR);
	free(iov);
	if (sent < 0) {
		int r = -errno;

		free(rbuf);
		return seterr(err, r, "cannot send the nftables batch (%u bytes): %s", total,
			      strerror(-r));
	}
	for (;;) {
		ssize_t n = recv(fd, rbuf, MNL_SOCKET_BUFFER_SIZE * 4, MSG_DONTWAIT);
		const struct nlmsghdr *h;
		int len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			st.first = st.first ? st.first : -ENOBUFS;
			seterr(err, -ENOBUFS, "lost nftables answers (receive buffer overrun)");
			continue;
		}
		if (n <= 0)
			break;
		len = (int)n;
		for (h = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len))
			if (h->nlmsg_type == NLMSG_ERROR)
				ack_error(&st, h);
	}
	free(rbuf);
	return st.first ? st.first : 0;
}

/* ---- requests (dumps and gets) ---- */

typedef int (*nl_cb)(const struct nlmsghdr *h, void *data);

static int talk(int fd, struct nlmsghdr *h, nl_cb cb, void *data)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t seq = h->nlmsg_seq;
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	drain(fd);
	if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, MNL_SOCKET_BUFFER_SIZE * 4, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		r = mnl_cb_run(buf, (size_t)n, seq, 0, (mnl_cb_t)cb, data);
		if (r < 0) {
			r = -errno;
			break;
		}
		if (r <= MNL_CB_STOP) {
			r = 0;
			break;
		}
	}
	free(buf);
	return r;
}

static uint32_t req_seq = 0x50da0000;

/* ---- expressions ---- */

static struct nftnl_expr *ex(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

static bool e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
		      uint32_t dreg)
{
	struct nftnl_expr *e = ex(r, "payload");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	return true;
}

static bool e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = ex(r, "meta");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	return true;
}

static bool e_ct(struct nftnl_rule *r, uint32_t key, int dir, uint32_t dreg)
{
	struct nftnl_expr *e = ex(r, "ct");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	if (dir >= 0)
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t)dir);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	return true;
}

static bool e_cmp(struct nftnl_rule *r, uint32_t op, uint32_t sreg, const void *data,
		  uint32_t len)
{
	struct nftnl_expr *e = ex(r, "cmp");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	return true;
}

static bool e_cmp8(struct nftnl_rule *r, uint32_t op, uint8_t v)
{
	return e_cmp(r, op, R0, &v, 1);
}

static bool e_cmp16(struct nftnl_rule *r, uint32_t op, uint16_t host)
{
	uint16_t be = htons(host);

	return e_cmp(r, op, R0, &be, 2);
}

static bool e_bitwise(struct nftnl_rule *r, uint32_t len, const void *mask)
{
	struct nftnl_expr *e = ex(r, "bitwise");
	uint8_t zero[16] = { 0 };

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, R0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, R0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	return true;
}

static bool e_lookup(struct nftnl_rule *r, const char *set, uint32_t set_id, bool map)
{
	struct nftnl_expr *e = ex(r, "lookup");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, R0);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (set_id)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	if (map)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	return true;
}

static bool e_counter(struct nftnl_rule *r)
{
	return ex(r, "counter") != NULL;
}

/* True for packets beyond @rate per second after a burst of @burst. */
static bool e_limit_over(struct nftnl_rule *r, uint32_t rate, uint32_t burst)
{
	struct nftnl_expr *e = ex(r, "limit");

	if (!e)
		return false;
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	return true;
}

static bool e_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = ex(r, "immediate");

	if (!e)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	return true;
}

/* ---- objects ---- */

typedef struct ctx {
	const su_nft_net *net;
	batch b;
	bool fail; /* allocation failed while building */
	uint32_t next_set_id;
} ctx;

static void put_table(ctx *c, uint16_t type, uint16_t family, uint16_t flags, bool comment)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *h;

	if (!t) {
		c->fail = true;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, c->net->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
	if (comment && c->net->comment) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

		if (u && nftnl_udata_put_strz(u, NFTNL_UDATA_TABLE_COMMENT, c->net->comment))
			nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(u),
					     nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	h = msg(&c->b, type, family, flags);
	nftnl_table_nlmsg_build_payload(h, t);
	nftnl_table_free(t);
	note(&c->b, "%s of table %s %s", type == NFT_MSG_DELTABLE ? "the deletion" : "the creation",
	     family == NFPROTO_BRIDGE ? "bridge" : "inet", c->net->table);
}

static void put_chain(ctx *c, uint16_t family, const char *name, int hook, int prio,
		      int policy)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *h;

	if (!ch) {
		c->fail = true;
		return;
	}
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, c->net->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, family);
	if (hook >= 0) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, (uint32_t)policy);
	}
	h = msg(&c->b, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_chain_nlmsg_build_payload(h, ch);
	nftnl_chain_free(ch);
	note(&c->b, "the creation of chain %s", name);
}

static void del_chain(ctx *c, uint16_t family, const char *name)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *h;

	if (!ch) {
		c->fail = true;
		return;
	}
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, c->net->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, name);
	h = msg(&c->b, NFT_MSG_DELCHAIN, family, 0);
	nftnl_chain_nlmsg_build_payload(h, ch);
	nftnl_chain_free(ch);
	note(&c->b, "the deletion of chain %s", name);
}

static struct nftnl_rule *rule_new(ctx *c, uint16_t family, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r) {
		c->fail = true;
		return NULL;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, c->net->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	return r;
}

/* Adds the rule; @tag (a comment) names its counter. @ok carries whether
 * every expression could be allocated. */
static void rule_put(ctx *c, struct nftnl_rule *r, bool ok, const char *tag)
{
	struct nlmsghdr *h;

	if (!r)
		return;
	if (!ok) {
		c->fail = true;
		nftnl_rule_free(r);
		return;
	}
	if (tag) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

		if (u && nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, tag))
			nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
					    nftnl_udata_buf_len(u));
		else
			c->fail = true;
		nftnl_udata_buf_free(u);
	}
	h = msg(&c->b, NFT_MSG_NEWRULE, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
		NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(h, r);
	note(&c->b, "a rule of chain %s%s%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
	     tag ? " counting " : "", tag ? tag : "");
	nftnl_rule_free(r);
}

typedef struct setdef {
	const char *name;
	uint16_t family;
	uint32_t flags;
	uint32_t key_type, key_len;
	uint8_t fields[8]; /* concatenation field lengths (interval sets), 0-terminated */
	uint32_t data_type, data_len;
	bool counter;
} setdef;

static void put_set(ctx *c, const setdef *d)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *h;

	if (!s) {
		c->fail = true;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, c->net->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, d->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, d->family);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, d->flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++c->next_set_id);
	if (d->fields[0]) {
		uint8_t f[NFT_REG32_COUNT] = { 0 };

		memcpy(f, d->fields, sizeof(d->fields));
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, f, sizeof(f));
	}
	if (d->flags & NFT_SET_MAP) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, d->data_type);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, d->data_len);
	}
	if (d->counter) {
		struct nftnl_expr *e = nftnl_expr_alloc("counter");

		if (!e)
			c->fail = true;
		else
			nftnl_set_add_expr(s, e);
	}
	h = msg(&c->b, NFT_MSG_NEWSET, d->family, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_set_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	note(&c->b, "the creation of set %s", d->name);
}

/* Elements are sent in messages of at most ELEMS_PER_MSG (each well below
 * the 64 KiB a netlink attribute can hold). */
#define ELEMS_PER_MSG 256

typedef struct elems {
	ctx *c;
	const char *set;
	uint16_t family;
	bool del;
	struct nftnl_set *s;
	size_t n;
	size_t total;
} elems;

static void elems_flush(elems *E)
{
	struct nlmsghdr *h;

	if (!E->s)
		return;
	if (E->n) {
		h = msg(&E->c->b, E->del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, E->family,
			E->del ? 0 : NLM_F_CREATE | NLM_F_EXCL);
		nftnl_set_elems_nlmsg_build_payload(h, E->s);
		note(&E->c->b, "%s %zu element%s of set %s", E->del ? "the deletion of" : "adding",
		     E->n, E->n == 1 ? "" : "s", E->set);
	}
	nftnl_set_free(E->s);
	E->s = NULL;
	E->n = 0;
}

static void elems_begin(elems *E, ctx *c, uint16_t family, const char *set, bool del)
{
	memset(E, 0, sizeof(*E));
	E->c = c;
	E->family = family;
	E->set = set;
	E->del = del;
}

/* Adds one element: key, optional key_end (intervals), optional verdict. */
static void elems_put(elems *E, const void *key, uint32_t len, const void *key_end,
		      int verdict, const char *chain)
{
	struct nftnl_set_elem *e;

	if (!E->s) {
		E->s = nftnl_set_alloc();
		if (!E->s) {
			E->c->fail = true;
			return;
		}
		nftnl_set_set_str(E->s, NFTNL_SET_TABLE, E->c->net->table);
		nftnl_set_set_str(E->s, NFTNL_SET_NAME, E->set);
		nftnl_set_set_u32(E->s, NFTNL_SET_FAMILY, E->family);
	}
	e = nftnl_set_elem_alloc();
	if (!e) {
		E->c->fail = true;
		return;
	}
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (key_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, key_end, len);
	if (chain && !E->del) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)verdict);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
	}
	nftnl_set_elem_add(E->s, e);
	E->total++;
	if (++E->n >= ELEMS_PER_MSG)
		elems_flush(E);
}

/* ---- names and keys ---- */

static const char *const set_names[SU_NFT_SETS] = {
	[SU_NFT_SET(0, 0, SU_NFT_KIND_PORT)] = "allow4-port",
	[SU_NFT_SET(0, 0, SU_NFT_KIND_PROTO)] = "allow4-proto",
	[SU_NFT_SET(0, 0, SU_NFT_KIND_ANY)] = "allow4-any",
	[SU_NFT_SET(0, 0, SU_NFT_KIND_RANGE)] = "allow4-range",
	[SU_NFT_SET(1, 0, SU_NFT_KIND_PORT)] = "allow6-port",
	[SU_NFT_SET(1, 0, SU_NFT_KIND_PROTO)] = "allow6-proto",
	[SU_NFT_SET(1, 0, SU_NFT_KIND_ANY)] = "allow6-any",
	[SU_NFT_SET(1, 0, SU_NFT_KIND_RANGE)] = "allow6-range",
	[SU_NFT_SET(0, 1, SU_NFT_KIND_PORT)] = "deny4-port",
	[SU_NFT_SET(0, 1, SU_NFT_KIND_PROTO)] = "deny4-proto",
	[SU_NFT_SET(0, 1, SU_NFT_KIND_ANY)] = "deny4-any",
	[SU_NFT_SET(0, 1, SU_NFT_KIND_RANGE)] = "deny4-range",
	[SU_NFT_SET(1, 1, SU_NFT_KIND_PORT)] = "deny6-port",
	[SU_NFT_SET(1, 1, SU_NFT_KIND_PROTO)] = "deny6-proto",
	[SU_NFT_SET(1, 1, SU_NFT_KIND_ANY)] = "deny6-any",
	[SU_NFT_SET(1, 1, SU_NFT_KIND_RANGE)] = "deny6-range",
};

/* The policy is held twice, in buffers a and b, each with its own sets and
 * chains; the chain "dispatch" sends packets to one of them. A change is
 * written into the buffer no packet sees, the dispatch is swapped in one
 * transaction, then the other buffer catches up. */
#define NBUF 2

static const char *buf_set(unsigned set, int buf, char out[32])
{
	snprintf(out, 32, "%s-%c", set_names[set], 'a' + buf);
	return out;
}

static const char *buf_chain(bool v6, int buf, char out[32])
{
	snprintf(out, 32, "policy%c-%c", v6 ? '6' : '4', 'a' + buf);
	return out;
}

/* Generations: the low 28 bits count changes; the top four say which
 * transaction of a change the kernel is at (0: none, at rest). At rest
 * both buffers hold the same policy and packets go to buffer gen & 1. */
#define GEN_MASK 0x0fffffffu
#define GEN_STAGED(g) (((g) & GEN_MASK) | 1u << 28)  /* the standby buffer is being written */
#define GEN_SWAPPED(g) (((g) & GEN_MASK) | 2u << 28) /* swapped; the other buffer lags */
#define GEN_BUF(g) ((int)((g) & 1u))

static uint32_t concat_type(int n, const int *types)
{
	uint32_t t = 0;

	for (int i = 0; i < n; i++)
		t = t << TYPE_BITS | (uint32_t)types[i];
	return t;
}

static setdef policy_setdef(unsigned set, const char *name)
{
	bool v6 = set & SU_NFT_SET_V6;
	unsigned kind = SU_NFT_SET_KIND(set);
	uint8_t alen = v6 ? 16 : 4;
	int at = v6 ? T_IP6ADDR : T_IPADDR;
	setdef d = { name, NFPROTO_INET, 0, 0, 0, { 0 }, 0, 0, true };
	int types[4] = { at, at, T_PROTO, T_SERVICE };
	int n = kind == SU_NFT_KIND_ANY ? 2 : kind == SU_NFT_KIND_PROTO ? 3 : 4;

	d.key_type = concat_type(n, types);
	d.key_len = 2u * alen + (n >= 3 ? 4u : 0u) + (n == 4 ? 4u : 0u);
	if (kind == SU_NFT_KIND_RANGE) {
		d.flags = NFT_SET_INTERVAL | NFT_SET_CONCAT;
		d.fields[0] = alen;
		d.fields[1] = alen;
		d.fields[2] = 1;
		d.fields[3] = 2;
	}
	return d;
}

/* Key (and for ranges key_end) of a policy element, laid out as the
 * registers hold it: each field in 4-byte steps. */
static uint32_t elem_key(const su_nft_elem *e, bool end, uint8_t *key)
{
	bool v6 = e->set & SU_NFT_SET_V6;
	unsigned kind = SU_NFT_SET_KIND(e->set);
	uint32_t alen = v6 ? 16 : 4, o = 0;
	uint16_t port = htons(end ? e->port_hi : e->port_lo);

	memset(key, 0, 40);
	memcpy(key + o, end ? e->src_hi : e->src_lo, alen);
	o += alen;
	memcpy(key + o, end ? e->dst_hi : e->dst_lo, alen);
	o += alen;
	if (kind == SU_NFT_KIND_ANY)
		return o;
	key[o] = end ? e->proto_hi : e->proto_lo;
	o += 4;
	if (kind == SU_NFT_KIND_PROTO)
		return o;
	memcpy(key + o, &port, 2);
	return o + 4;
}

static void put_policy_elem(elems *E, const su_nft_elem *e)
{
	uint8_t k[40], kend[40];
	uint32_t len = elem_key(e, false, k);
	bool range = SU_NFT_SET_KIND(e->set) == SU_NFT_KIND_RANGE;

	if (range)
		elem_key(e, true, kend);
	elems_put(E, k, len, range ? kend : NULL, 0, NULL);
}

static void ifkey(const char *ifname, uint8_t key[16])
{
	memset(key, 0, 16);
	memcpy(key, ifname, strnlen(ifname, 15));
}

static void port_chain_names(const su_nft_port *p, char pc[32], char vc[32])
{
	snprintf(pc, 32, "port-%s", p->ifname);
	snprintf(vc, 32, "port-%s-v6", p->ifname);
}

static const char *flood_chain_name(const su_nft_port *p, char fc[32])
{
	snprintf(fc, 32, "flood-%s", p->ifname);
	return fc;
}

/* ---- the bridge table ---- */

#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define ETH_IP6 0x86dd

static bool ethertype(struct nftnl_rule *r, uint16_t type)
{
	return e_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, R0) && e_cmp16(r, NFT_CMP_EQ, type);
}

static bool icmp6_type(struct nftnl_rule *r, uint8_t type)
{
	return e_meta(r, NFT_META_L4PROTO, R0) && e_cmp8(r, NFT_CMP_EQ, 58) &&
	       e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, R0) && e_cmp8(r, NFT_CMP_EQ, type);
}

static bool ip6_plen(struct nftnl_rule *r, uint16_t plen)
{
	return e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 4, 2, R0) && e_cmp16(r, NFT_CMP_EQ, plen);
}

/* The link-layer address option of an NS (type 1) or NA (type 2) must
 * carry the port's MAC. */
static bool lladdr_option(struct nftnl_rule *r, uint8_t opt, const uint8_t mac[6])
{
	uint8_t want[8] = { opt, 1 };

	memcpy(want + 2, mac, 6);
	return e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 24, 8, R0) &&
	       e_cmp(r, NFT_CMP_EQ, R0, want, 8);
}

/* The port's broadcast limit, alone in its chain so that a change of
 * rate replaces it without touching the port's other rules and counters:
 * frames to a group address (broadcast and multicast, ARP requests and
 * neighbour discovery included) beyond the rate are counted and dropped
 * here, before the bridge copies them to every other port. The limit's
 * state is this rule's, so each port has a budget of its own. */
static void flood_rule(ctx *c, const su_nft_port *p)
{
	static const uint8_t group = 1; /* the I/G bit of the destination */
	char fc[32], tag[64];
	struct nftnl_rule *r;
	bool ok;

	if (!c->net->flood_rate)
		return;
	r = rule_new(c, NFPROTO_BRIDGE, flood_chain_name(p, fc));
	ok = r && e_payload(r, NFT_PAYLOAD_LL_HEADER, 0, 1, R0) && e_bitwise(r, 1, &group) &&
	     e_cmp8(r, NFT_CMP_EQ, group) &&
	     e_limit_over(r, c->net->flood_rate, c->net->flood_burst) && e_counter(r) &&
	     e_verdict(r, NF_DROP, NULL);
	snprintf(tag, sizeof(tag), "port %s flood", p->ifname);
	rule_put(c, r, ok, tag);
}

static void port_rules(ctx *c, const su_nft_port *p)
{
	static const uint8_t arp_hdr[6] = { 0, 1, 8, 0, 6, 4 };
	static const uint8_t unspecified[16] = { 0 };
	const uint16_t F = NFPROTO_BRIDGE;
	char pc[32], vc[32], fc[32], tag[64];
	struct nftnl_rule *r;
	bool ok;

	port_chain_names(p, pc, vc);
	put_chain(c, F, pc, -1, 0, 0);
	put_chain(c, F, vc, -1, 0, 0);
	put_chain(c, F, flood_chain_name(p, fc), -1, 0, 0);
	flood_rule(c, p);

	/* Frames must carry the port's MAC. */
	r = rule_new(c, F, pc);
	ok = r && e_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, R0) &&
	     e_cmp(r, NFT_CMP_NEQ, R0, p->mac, 6) && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	snprintf(tag, sizeof(tag), "port %s mac", p->ifname);
	rule_put(c, r, ok, tag);

	/* Then the broadcast limit (a spoofed flood is counted as such
	 * above and spends nothing of the port's budget). */
	r = rule_new(c, F, pc);
	ok = r && e_verdict(r, NFT_JUMP, fc);
	rule_put(c, r, ok, NULL);

	/* ARP: Ethernet/IPv4, sender MAC and IP the port's (0.0.0.0 in probes). */
	for (int i = 0; i <= p->n_ip4; i++) {
		uint8_t sender[10];

		memcpy(sender, p->mac, 6);
		if (i < p->n_ip4)
			memcpy(sender + 6, p->ip4[i], 4);
		else
			memset(sender + 6, 0, 4);
		r = rule_new(c, F, pc);
		ok = r && ethertype(r, ETH_ARP) &&
		     e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 6, R0) &&
		     e_cmp(r, NFT_CMP_EQ, R0, arp_hdr, 6);
		if (ok && i == p->n_ip4) /* probes are requests */
			ok = e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 6, 2, R0) &&
			     e_cmp16(r, NFT_CMP_EQ, 1);
		ok = ok && e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 10, R0) &&
		     e_cmp(r, NFT_CMP_EQ, R0, sender, 10) && e_verdict(r, NF_ACCEPT, NULL);
		rule_put(c, r, ok, NULL);
	}
	r = rule_new(c, F, pc);
	ok = r && ethertype(r, ETH_ARP) && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	snprintf(tag, sizeof(tag), "port %s arp", p->ifname);
	rule_put(c, r, ok, tag);

	/* IPv4 from the port's addresses only. */
	for (int i = 0; i < p->n_ip4; i++) {
		r = rule_new(c, F, pc);
		ok = r && ethertype(r, ETH_IP) &&
		     e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R0) &&
		     e_cmp(r, NFT_CMP_EQ, R0, p->ip4[i], 4) && e_verdict(r, NF_ACCEPT, NULL);
		rule_put(c, r, ok, NULL);
	}
	r = rule_new(c, F, pc);
	ok = r && ethertype(r, ETH_IP) && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	snprintf(tag, sizeof(tag), "port %s ip", p->ifname);
	rule_put(c, r, ok, tag);

	/* IPv6 from the port's addresses (and its link-local one), then the
	 * neighbour discovery checks. */
	for (int i = 0; i <= p->n_ip6; i++) {
		const uint8_t *a = i < p->n_ip6 ? p->ip6[i] : p->ll6;

		r = rule_new(c, F, pc);
		ok = r && ethertype(r, ETH_IP6) &&
		     e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, R0) &&
		     e_cmp(r, NFT_CMP_EQ, R0, a, 16) && e_verdict(r, NFT_GOTO, vc);
		rule_put(c, r, ok, NULL);
	}
	/* From "::": duplicate address detection and MLD reports only. */
	{
		static const uint8_t types[] = { 135, 131, 143 };

		for (size_t i = 0; i < sizeof(types); i++) {
			r = rule_new(c, F, pc);
			ok = r && ethertype(r, ETH_IP6) &&
			     e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, R0) &&
			     e_cmp(r, NFT_CMP_EQ, R0, unspecified, 16) && icmp6_type(r, types[i]);
			if (ok && types[i] == 135) /* no link-layer option from "::" */
				ok = ip6_plen(r, 24);
			ok = ok && e_verdict(r, NF_ACCEPT, NULL);
			rule_put(c, r, ok, NULL);
		}
	}
	r = rule_new(c, F, pc);
	ok = r && ethertype(r, ETH_IP6) && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	snprintf(tag, sizeof(tag), "port %s ip", p->ifname);
	rule_put(c, r, ok, tag);

	/* Everything else (VLAN tags, other protocols). */
	r = rule_new(c, F, pc);
	ok = r && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	snprintf(tag, sizeof(tag), "port %s other", p->ifname);
	rule_put(c, r, ok, tag);

	/* The IPv6 chain: no router advertisements or redirects; solicitations
	 * carry the port's MAC; advertisements are for the port's addresses
	 * and carry its MAC. */
	snprintf(tag, sizeof(tag), "port %s nd", p->ifname);
	for (uint8_t t = 134; t <= 137; t += 3) {
		r = rule_new(c, F, vc);
		ok = r && icmp6_type(r, t) && e_counter(r) && e_verdict(r, NF_DROP, NULL);
		rule_put(c, r, ok, tag);
	}
	r = rule_new(c, F, vc);
	ok = r && icmp6_type(r, 135) && ip6_plen(r, 24) && e_verdict(r, NF_ACCEPT, NULL);
	rule_put(c, r, ok, NULL);
	r = rule_new(c, F, vc);
	ok = r && icmp6_type(r, 135) && ip6_plen(r, 32) && lladdr_option(r, 1, p->mac) &&
	     e_verdict(r, NF_ACCEPT, NULL);
	rule_put(c, r, ok, NULL);
	r = rule_new(c, F, vc);
	ok = r && icmp6_type(r, 135) && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	rule_put(c, r, ok, tag);
	for (int i = 0; i <= p->n_ip6; i++) {
		const uint8_t *a = i < p->n_ip6 ? p->ip6[i] : p->ll6;

		for (int opt = 0; opt < 2; opt++) {
			r = rule_new(c, F, vc);
			ok = r && icmp6_type(r, 136) && ip6_plen(r, opt ? 32 : 24) &&
			     e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 16, R0) &&
			     e_cmp(r, NFT_CMP_EQ, R0, a, 16);
			if (ok && opt)
				ok = lladdr_option(r, 2, p->mac);
			ok = ok && e_verdict(r, NF_ACCEPT, NULL);
			rule_put(c, r, ok, NULL);
		}
	}
	r = rule_new(c, F, vc);
	ok = r && icmp6_type(r, 136) && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	rule_put(c, r, ok, tag);
	r = rule_new(c, F, vc);
	ok = r && e_verdict(r, NF_ACCEPT, NULL);
	rule_put(c, r, ok, NULL);
}

/* Set elements that follow a port: the verdict map entry, its counters,
 * the addresses the uplink may not use, and the per-server counters. */
static void port_elems(ctx *c, const su_nft_port *p, bool del)
{
	char pc[32], vc[32];
	uint8_t key[16];
	elems E;

	port_chain_names(p, pc, vc);
	ifkey(p->ifname, key);
	elems_begin(&E, c, NFPROTO_BRIDGE, "ports", del);
	elems_put(&E, key, 16, NULL, NFT_GOTO, pc);
	elems_flush(&E);
	elems_begin(&E, c, NFPROTO_BRIDGE, "host-ports", del);
	elems_put(&E, key, 16, NULL, 0, NULL);
	elems_flush(&E);
	elems_begin(&E, c, NFPROTO_BRIDGE, "forward-ports", del);
	elems_put(&E, key, 16, NULL, 0, NULL);
	elems_flush(&E);
	elems_begin(&E, c, NFPROTO_BRIDGE, "server-macs", del);
	elems_put(&E, p->mac, 6, NULL, 0, NULL);
	elems_flush(&E);
	elems_begin(&E, c, NFPROTO_BRIDGE, "server-ip4", del);
	for (int i = 0; i < p->n_ip4; i++)
		elems_put(&E, p->ip4[i], 4, NULL, 0, NULL);
	elems_flush(&E);
	elems_begin(&E, c, NFPROTO_BRIDGE, "server-ip6", del);
	for (int i = 0; i < p->n_ip6; i++)
		elems_put(&E, p->ip6[i], 16, NULL, 0, NULL);
	elems_put(&E, p->ll6, 16, NULL, 0, NULL);
	elems_flush(&E);
	for (int dir = 0; dir < 2; dir++) {
		elems_begin(&E, c, NFPROTO_INET, dir ? "refused-to4" : "refused-from4", del);
		for (int i = 0; i < p->n_ip4; i++)
			elems_put(&E, p->ip4[i], 4, NULL, 0, NULL);
		elems_flush(&E);
		elems_begin(&E, c, NFPROTO_INET, dir ? "refused-to6" : "refused-from6", del);
		for (int i = 0; i < p->n_ip6; i++)
			elems_put(&E, p->ip6[i], 16, NULL, 0, NULL);
		elems_flush(&E);
	}
}

static void port_add(ctx *c, const su_nft_port *p)
{
	port_rules(c, p);
	port_elems(c, p, false);
}

static void port_del(ctx *c, const su_nft_port *p)
{
	char pc[32], vc[32], fc[32];

	port_chain_names(p, pc, vc);
	/* The map entry goes first: it holds the port chain, which holds the
	 * IPv6 chain. */
	port_elems(c, p, true);
	del_chain(c, NFPROTO_BRIDGE, pc);
	del_chain(c, NFPROTO_BRIDGE, vc);
	del_chain(c, NFPROTO_BRIDGE, flood_chain_name(p, fc));
}

static void bridge_table(ctx *c)
{
	const uint16_t F = NFPROTO_BRIDGE;
	const setdef sets[] = {
		{ "ports", F, NFT_SET_MAP, T_IFNAME, 16, { 0 }, NFT_DATA_VERDICT, 0, false },
		{ "host-ports", F, 0, T_IFNAME, 16, { 0 }, 0, 0, true },
		{ "forward-ports", F, 0, T_IFNAME, 16, { 0 }, 0, 0, true },
		{ "server-macs", F, 0, T_ETHERADDR, 6, { 0 }, 0, 0, false },
		{ "server-ip4", F, 0, T_IPADDR, 4, { 0 }, 0, 0, false },
		{ "server-ip6", F, 0, T_IP6ADDR, 16, { 0 }, 0, 0, false },
	};
	struct nftnl_rule *r;
	uint8_t key[16];
	bool ok;

	put_table(c, NFT_MSG_NEWTABLE, F, NLM_F_CREATE | NLM_F_EXCL, true);
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		put_set(c, &sets[i]);
	put_chain(c, F, "prerouting", NF_BR_PRE_ROUTING, -200, NF_ACCEPT);
	put_chain(c, F, "input", NF_BR_LOCAL_IN, -200, NF_ACCEPT);
	/* After br_netfilter (priority 0) has let the policy judge. */
	put_chain(c, F, "forwarded", NF_BR_FORWARD, 200, NF_ACCEPT);
	if (c->net->uplink)
		put_chain(c, F, "uplink", -1, 0, 0);

	/* prerouting: each server port to its own chain, the uplink to its
	 * checks, anything else dropped. */
	r = rule_new(c, F, "prerouting");
	ok = r && e_meta(r, NFT_META_IIFNAME, R0) && e_lookup(r, "ports", 0, true);
	rule_put(c, r, ok, NULL);
	if (c->net->uplink) {
		ifkey(c->net->uplink, key);
		r = rule_new(c, F, "prerouting");
		ok = r && e_meta(r, NFT_META_IIFNAME, R0) && e_cmp(r, NFT_CMP_EQ, R0, key, 16) &&
		     e_verdict(r, NFT_GOTO, "uplink");
		rule_put(c, r, ok, NULL);
	}
	/* Anything else is some other bridge's business: the hooks see every
	 * bridge of the namespace, and this kernel cannot match the bridge a
	 * frame came in on (no NFT_BRIDGE_META). */

	/* The uplink may not speak for a server. */
	if (c->net->uplink) {
		struct { uint16_t etype; uint32_t base, off, len; const char *set; bool na; } u[] = {
			{ 0, NFT_PAYLOAD_LL_HEADER, 6, 6, "server-macs", false },
			{ ETH_ARP, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, "server-ip4", false },
			{ ETH_IP, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, "server-ip4", false },
			{ ETH_IP6, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, "server-ip6", false },
			{ ETH_IP6, NFT_PAYLOAD_TRANSPORT_HEADER, 8, 16, "server-ip6", true },
		};

		for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
			r = rule_new(c, F, "uplink");
			ok = r && (!u[i].etype || ethertype(r, u[i].etype)) &&
			     (!u[i].na || icmp6_type(r, 136)) &&
			     e_payload(r, u[i].base, u[i].off, u[i].len, R0) &&
			     e_lookup(r, u[i].set, 0, false) && e_counter(r) &&
			     e_verdict(r, NF_DROP, NULL);
			rule_put(c, r, ok, "total uplink");
		}
		r = rule_new(c, F, "uplink");
		ok = r && e_verdict(r, NF_ACCEPT, NULL);
		rule_put(c, r, ok, NULL);
	}

	/* Nothing from the switch reaches the host: from a server port
	 * (counted by port) or the uplink, dropped. */
	r = rule_new(c, F, "input");
	ok = r && e_meta(r, NFT_META_IIFNAME, R0) && e_lookup(r, "host-ports", 0, false) &&
	     e_counter(r) && e_verdict(r, NF_DROP, NULL);
	rule_put(c, r, ok, "total host");
	if (c->net->uplink) {
		ifkey(c->net->uplink, key);
		r = rule_new(c, F, "input");
		ok = r && e_meta(r, NFT_META_IIFNAME, R0) && e_cmp(r, NFT_CMP_EQ, R0, key, 16) &&
		     e_counter(r) && e_verdict(r, NF_DROP, NULL);
		rule_put(c, r, ok, "total host");
	}

	r = rule_new(c, F, "forwarded");
	ok = r && e_meta(r, NFT_META_IIFNAME, R0) && e_lookup(r, "forward-ports", 0, false);
	rule_put(c, r, ok, NULL);
}

/* ---- the inet table ---- */

/* Loads the connection's original-direction key of @kind into the
 * registers, in the layout elem_key() writes. */
static bool ct_key(struct nftnl_rule *r, bool v6, unsigned kind)
{
	uint32_t step = v6 ? 4 : 1;
	bool ok = e_ct(r, v6 ? NFT_CT_SRC_IP6 : NFT_CT_SRC_IP, IP_CT_DIR_ORIGINAL, R0) &&
		  e_ct(r, v6 ? NFT_CT_DST_IP6 : NFT_CT_DST_IP, IP_CT_DIR_ORIGINAL, R0 + step);

	if (ok && kind != SU_NFT_KIND_ANY)
		ok = e_ct(r, NFT_CT_PROTOCOL, IP_CT_DIR_ORIGINAL, R0 + 2 * step);
	if (ok && (kind == SU_NFT_KIND_PORT || kind == SU_NFT_KIND_RANGE))
		ok = e_ct(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, R0 + 2 * step + 1);
	return ok;
}

/* The two rules of chain "dispatch": each family to its chain of @buf. */
static void put_dispatch(ctx *c, int buf)
{
	for (int v6 = 0; v6 < 2; v6++) {
		uint8_t proto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
		struct nftnl_rule *r = rule_new(c, NFPROTO_INET, "dispatch");
		char chain[32];
		bool ok = r && e_meta(r, NFT_META_NFPROTO, R0) && e_cmp8(r, NFT_CMP_EQ, proto) &&
			  e_verdict(r, NFT_GOTO, buf_chain(v6, buf, chain));

		rule_put(c, r, ok, NULL);
	}
}

/* Deletes every rule of chain @name (a DELRULE without a handle). */
static void flush_chain(ctx *c, uint16_t family, const char *name)
{
	struct nftnl_rule *r = rule_new(c, family, name);
	struct nlmsghdr *h;

	if (!r)
		return;
	h = msg(&c->b, NFT_MSG_DELRULE, family, 0);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	note(&c->b, "the flush of chain %s", name);
}

/* Buffer @buf's rules, per family: deny sets, then allow sets, then the
 * default. Each set element counts the packets it decided. */
static void buffer_rules(ctx *c, int buf)
{
	const uint16_t F = NFPROTO_INET;

	for (int v6 = 0; v6 < 2; v6++) {
		const char *refuse = v6 ? "refuse6" : "refuse4";
		struct nftnl_rule *r;
		char chain[32];
		bool ok;

		buf_chain(v6, buf, chain);
		for (int deny = 1; deny >= 0; deny--)
			for (unsigned kind = 0; kind < 4; kind++) {
				unsigned s = SU_NFT_SET((unsigned)v6, deny, kind);
				char set[32];

				r = rule_new(c, F, chain);
				ok = r && ct_key(r, v6, kind) &&
				     e_lookup(r, buf_set(s, buf, set), 0, false) &&
				     (deny ? e_verdict(r, NFT_GOTO, refuse)
					   : e_verdict(r, NF_ACCEPT, NULL));
				rule_put(c, r, ok, NULL);
			}
		r = rule_new(c, F, chain);
		ok = r && e_verdict(r, NFT_GOTO, v6 ? "default6" : "default4");
		rule_put(c, r, ok, NULL);
	}
}

static void inet_table(ctx *c, uint32_t generation)
{
	const uint16_t F = NFPROTO_INET;
	const setdef counters[] = {
		{ "refused-from4", F, 0, T_IPADDR, 4, { 0 }, 0, 0, true },
		{ "refused-to4", F, 0, T_IPADDR, 4, { 0 }, 0, 0, true },
		{ "refused-from6", F, 0, T_IP6ADDR, 16, { 0 }, 0, 0, true },
		{ "refused-to6", F, 0, T_IP6ADDR, 16, { 0 }, 0, 0, true },
		{ "generation", F, 0, T_MARK, 4, { 0 }, 0, 0, false },
	};
	struct nftnl_rule *r;
	uint8_t brkey[16];
	uint32_t mask;
	bool ok;

	put_table(c, NFT_MSG_NEWTABLE, F, NLM_F_CREATE | NLM_F_EXCL, true);
	for (int buf = 0; buf < NBUF; buf++)
		for (unsigned s = 0; s < SU_NFT_SETS; s++) {
			char name[32];
			setdef d = policy_setdef(s, buf_set(s, buf, name));

			put_set(c, &d);
		}
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		put_set(c, &counters[i]);
	put_chain(c, F, "prerouting", NF_INET_PRE_ROUTING, 0, NF_ACCEPT);
	put_chain(c, F, "dispatch", -1, 0, 0);
	for (int buf = 0; buf < NBUF; buf++)
		for (int v6 = 0; v6 < 2; v6++) {
			char chain[32];

			put_chain(c, F, buf_chain(v6, buf, chain), -1, 0, 0);
		}
	put_chain(c, F, "default4", -1, 0, 0);
	put_chain(c, F, "default6", -1, 0, 0);
	put_chain(c, F, "refuse4", -1, 0, 0);
	put_chain(c, F, "refuse6", -1, 0, 0);

	/* Only what crosses this network's bridge is ours to judge. */
	ifkey(c->net->bridge, brkey);
	r = rule_new(c, F, "prerouting");
	ok = r && e_meta(r, NFT_META_IIFNAME, R0) && e_cmp(r, NFT_CMP_NEQ, R0, brkey, 16) &&
	     e_verdict(r, NF_ACCEPT, NULL);
	rule_put(c, r, ok, NULL);
	/* Neighbour discovery and MLD (130-136, 143) were checked per port. */
	r = rule_new(c, F, "prerouting");
	ok = r && e_meta(r, NFT_META_L4PROTO, R0) && e_cmp8(r, NFT_CMP_EQ, 58) &&
	     e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, R0) &&
	     e_cmp8(r, NFT_CMP_GTE, 130) && e_cmp8(r, NFT_CMP_LTE, 136) &&
	     e_verdict(r, NF_ACCEPT, NULL);
	rule_put(c, r, ok, NULL);
	r = rule_new(c, F, "prerouting");
	ok = r && e_meta(r, NFT_META_L4PROTO, R0) && e_cmp8(r, NFT_CMP_EQ, 58) &&
	     e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, R0) &&
	     e_cmp8(r, NFT_CMP_EQ, 143) && e_verdict(r, NF_ACCEPT, NULL);
	rule_put(c, r, ok, NULL);
	/* No connection, no verdict. */
	mask = NF_CT_STATE_INVALID_BIT | NF_CT_STATE_UNTRACKED_BIT;
	r = rule_new(c, F, "prerouting");
	{
		uint32_t zero = 0;

		ok = r && e_ct(r, NFT_CT_STATE, -1, R0) && e_bitwise(r, 4, &mask) &&
		     e_cmp(r, NFT_CMP_NEQ, R0, &zero, 4) && e_counter(r) &&
		     e_verdict(r, NF_DROP, NULL);
	}
	rule_put(c, r, ok, "total invalid");
	/* IPv4 and IPv6 go to the buffer in force; the rest is dropped. */
	r = rule_new(c, F, "prerouting");
	ok = r && e_verdict(r, NFT_JUMP, "dispatch");
	rule_put(c, r, ok, NULL);
	r = rule_new(c, F, "prerouting");
	ok = r && e_counter(r) && e_verdict(r, NF_DROP, NULL);
	rule_put(c, r, ok, "total default");
	put_dispatch(c, GEN_BUF(generation));

	for (int buf = 0; buf < NBUF; buf++)
		buffer_rules(c, buf);
	for (int v6 = 0; v6 < 2; v6++) {
		const char *refuse = v6 ? "refuse6" : "refuse4";

		/* What no set decided: counted here, in a chain no change
		 * touches, so the count survives buffers made anew. */
		r = rule_new(c, F, v6 ? "default6" : "default4");
		ok = r && e_counter(r) && e_verdict(r, NFT_GOTO, refuse);
		rule_put(c, r, ok, "total default");

		/* Refused: count for the server at either end, drop. */
		for (int dir = 0; dir < 2; dir++) {
			char set[32];

			snprintf(set, sizeof(set), "refused-%s%c", dir ? "to" : "from", v6 ? '6' : '4');
			r = rule_new(c, F, refuse);
			ok = r &&
			     e_ct(r, dir ? (v6 ? NFT_CT_DST_IP6 : NFT_CT_DST_IP)
					 : (v6 ? NFT_CT_SRC_IP6 : NFT_CT_SRC_IP),
				  IP_CT_DIR_ORIGINAL, R0) &&
			     e_lookup(r, set, 0, false);
			rule_put(c, r, ok, NULL);
		}
		r = rule_new(c, F, refuse);
		ok = r && e_verdict(r, NF_DROP, NULL);
		rule_put(c, r, ok, NULL);
	}
	{
		elems E;

		elems_begin(&E, c, F, "generation", false);
		elems_put(&E, &generation, 4, NULL, 0, NULL);
		elems_flush(&E);
	}
}

static int cmp_set(const void *a, const void *b)
{
	const su_nft_elem *x = *(const su_nft_elem *const *)a, *y = *(const su_nft_elem *const *)b;

	return (int)x->set - (int)y->set;
}

/* Adds or deletes elements of buffer @buf, grouped by set. */
static void policy_elems(ctx *c, const su_nft_elem *el, size_t n, bool del, int buf)
{
	const su_nft_elem **sorted;
	elems E;

	if (!n)
		return;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted) {
		c->fail = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &el[i];
	/* qsort is not stable but the order within a set does not matter. */
	qsort(sorted, n, sizeof(*sorted), cmp_set);
	for (size_t i = 0; i < n;) {
		unsigned s = sorted[i]->set;

		if (s >= SU_NFT_SETS) {
			c->fail = true;
			break;
		}
		char name[32];

		elems_begin(&E, c, NFPROTO_INET, buf_set(s, buf, name), del);
		for (; i < n && sorted[i]->set == s; i++)
			put_policy_elem(&E, sorted[i]);
		elems_flush(&E);
	}
	free(sorted);
}

/* Deletes set @set of buffer @buf (no rule may refer to it by then). */
static void del_set(ctx *c, unsigned set, int buf)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *h;
	char name[32];

	if (!s) {
		c->fail = true;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, c->net->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, buf_set(set, buf, name));
	h = msg(&c->b, NFT_MSG_DELSET, NFPROTO_INET, 0);
	nftnl_set_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	note(&c->b, "the deletion of set %s", name);
}

/* ---- tables: existence ---- */

static int table_exists(int fd, const char *name, uint16_t family)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char buf[1024];
	struct nlmsghdr *h;
	int r;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, NLM_F_ACK, ++req_seq);
	nftnl_table_nlmsg_build_payload(h, t);
	nftnl_table_free(t);
	r = talk(fd, h, NULL, NULL);
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

/* ---- operations ---- */

static const char *op_describe(void)
{
	return "libsoda-nft " SODA_VERSION_STRING " (libnftnl, GPL-2.0-or-later)";
}

/* Test hook: SODA_NFT_TEST_FAIL=N in the environment makes transaction N
 * (1 to 3) of every change, and an install (N = 1), end with a message the
 * kernel refuses, so tests can watch the kernel throw a whole batch away. */
static bool fault_at(int t)
{
	const char *v = secure_getenv("SODA_NFT_TEST_FAIL");

	return v && v[0] - '0' == t && !v[1];
}

static void test_fault(ctx *c)
{
	uint8_t key[8] = { 0 };
	elems E;

	/* An 8-byte key for the 4-byte generation set: -EINVAL, which no
	 * caller takes for a kernel out of step with the record. */
	elems_begin(&E, c, NFPROTO_INET, "generation", false);
	elems_put(&E, key, 8, NULL, 0, NULL);
	elems_flush(&E);
}

static int finish(ctx *c, bool commit, bool fault, su_nft_err *err)
{
	int r;

	if (fault)
		test_fault(c);

	if (c->fail || c->b.oom)
		r = seterr(err, -ENOMEM, "out of memory building the nftables batch");
	else
		r = batch_send(c->net->fd, &c->b, commit, err);
	batch_free(&c->b);
	return r;
}

static int op_install(const su_nft_net *net, const su_nft_model *m, unsigned int flags,
		      su_nft_err *err)
{
	ctx c = { .net = net };
	int have_b, have_i;

	if (flags & ~SU_NFT_CHECK)
		return seterr(err, -EINVAL, "unknown flags");
	have_b = table_exists(net->fd, net->table, NFPROTO_BRIDGE);
	have_i = table_exists(net->fd, net->table, NFPROTO_INET);
	if (have_b < 0 || have_i < 0)
		return seterr(err, have_b < 0 ? have_b : have_i, "cannot look up table %s: %s",
			      net->table, strerror(-(have_b < 0 ? have_b : have_i)));
	if (batch_init(&c.b) < 0)
		return seterr(err, -ENOMEM, "out of memory");
	/* Old and new in one transaction: the kernel swaps them at once. */
	if (have_b)
		put_table(&c, NFT_MSG_DELTABLE, NFPROTO_BRIDGE, 0, false);
	if (have_i)
		put_table(&c, NFT_MSG_DELTABLE, NFPROTO_INET, 0, false);
	bridge_table(&c);
	inet_table(&c, m->generation & GEN_MASK);
	for (size_t i = 0; i < m->n_ports; i++)
		port_add(&c, &m->ports[i]);
	/* At rest both buffers hold the policy. */
	for (int buf = 0; buf < NBUF; buf++)
		policy_elems(&c, m->elems, m->n_elems, false, buf);
	return finish(&c, !(flags & SU_NFT_CHECK), fault_at(1), err);
}

/* ---- changes ---- */

static int cmp_elem_bytes(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(su_nft_elem));
}

/* One set's part of a change. */
typedef struct setchange {
	su_nft_elem *del, *add, *all; /* all: the set's whole new content */
	size_t n_del, n_add, n_all;
} setchange;

static void setchanges_free(setchange sc[SU_NFT_SETS])
{
	for (unsigned s = 0; s < SU_NFT_SETS; s++) {
		free(sc[s].del);
		free(sc[s].add);
		free(sc[s].all);
	}
	memset(sc, 0, SU_NFT_SETS * sizeof(*sc));
}

static int split(const su_nft_elem *el, size_t n, su_nft_elem **out, size_t *counts)
{
	for (unsigned s = 0; s < SU_NFT_SETS; s++) {
		out[s] = NULL;
		counts[s] = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (el[i].set >= SU_NFT_SETS)
			return -EINVAL;
		else
			counts[el[i].set]++;
	for (unsigned s = 0; s < SU_NFT_SETS; s++) {
		out[s] = malloc((counts[s] ? counts[s] : 1) * sizeof(*out[s]));
		if (!out[s])
			return -ENOMEM;
		counts[s] = 0;
	}
	for (size_t i = 0; i < n; i++)
		out[el[i].set][counts[el[i].set]++] = el[i];
	return 0;
}

static int setchanges_make(const su_nft_delta *d, setchange sc[SU_NFT_SETS])
{
	su_nft_elem *del[SU_NFT_SETS], *add[SU_NFT_SETS], *all[SU_NFT_SETS];
	size_t nd[SU_NFT_SETS], na[SU_NFT_SETS], nall[SU_NFT_SETS];
	int r;

	r = split(d->elem_del, d->n_elem_del, del, nd);
	if (r == 0)
		r = split(d->elem_add, d->n_elem_add, add, na);
	else
		memset(add, 0, sizeof(add));
	if (r == 0)
		r = split(d->elems, d->n_elems, all, nall);
	else
		memset(all, 0, sizeof(all));
	for (unsigned s = 0; s < SU_NFT_SETS; s++)
		sc[s] = (setchange){ del[s], add[s], all[s], nd[s], na[s], nall[s] };
	if (r < 0)
		setchanges_free(sc);
	return r;
}

/* Whether a buffer is cheaper made anew (its sets deleted and created
 * again, then filled) than edited. Deleting an element of an interval
 * (pipapo) set costs about a pass over the whole set, and emptying one
 * element by element (a flush is no better) costs the square of its size:
 * 2,000 boxes took 190 ms. Deleting a whole set frees it in one pass. So
 * the estimate: an edit costs its additions and deletions, each deletion
 * from an interval set weighted by the set's size over 64; making anew
 * costs the new content. */
static bool remake(const setchange sc[SU_NFT_SETS], bool undo)
{
	size_t edit = 0, anew = 64;

	for (unsigned s = 0; s < SU_NFT_SETS; s++) {
		const setchange *x = &sc[s];
		size_t n_del = undo ? x->n_add : x->n_del, n_add = undo ? x->n_del : x->n_add;
		size_t n_after = undo ? x->n_all - x->n_add + x->n_del : x->n_all;
		size_t n_before = n_after - n_add + n_del;

		edit += n_add + n_del;
		if (SU_NFT_SET_KIND(s) == SU_NFT_KIND_RANGE)
			edit += n_del * (n_before / 64);
		anew += n_after;
	}
	return edit > anew;
}

/* The old content of set @x: the new one less what was added, plus what
 * was deleted. */
static su_nft_elem *old_content(const setchange *x, size_t *ret_n)
{
	su_nft_elem *old = malloc((x->n_all + x->n_del + 1) * sizeof(*old)), *added = NULL;
	size_t n = 0;

	if (!old)
		return NULL;
	if (x->n_add) {
		added = malloc(x->n_add * sizeof(*added));
		if (!added) {
			free(old);
			return NULL;
		}
		memcpy(added, x->add, x->n_add * sizeof(*added));
		qsort(added, x->n_add, sizeof(*added), cmp_elem_bytes);
	}
	for (size_t i = 0; i < x->n_all; i++)
		if (!added ||
		    !bsearch(&x->all[i], added, x->n_add, sizeof(*added), cmp_elem_bytes))
			old[n++] = x->all[i];
	memcpy(old + n, x->del, x->n_del * sizeof(*old));
	*ret_n = n + x->n_del;
	free(added);
	return old;
}

/* Moves buffer @buf from the old policy to the new one (@undo: back). */
static void buffer_change(ctx *c, const setchange sc[SU_NFT_SETS], int buf, bool undo)
{
	if (remake(sc, undo)) {
		/* Rules first (they hold the sets), then the sets, then the same
		 * sets and rules anew, then the content. */
		for (int v6 = 0; v6 < 2; v6++) {
			char chain[32];

			flush_chain(c, NFPROTO_INET, buf_chain(v6, buf, chain));
		}
		for (unsigned s = 0; s < SU_NFT_SETS; s++) {
			char name[32];
			setdef d = policy_setdef(s, buf_set(s, buf, name));

			del_set(c, s, buf);
			put_set(c, &d);
		}
		buffer_rules(c, buf);
		for (unsigned s = 0; s < SU_NFT_SETS; s++) {
			const setchange *x = &sc[s];

			if (!undo) {
				policy_elems(c, x->all, x->n_all, false, buf);
			} else {
				size_t n = 0;
				su_nft_elem *old = old_content(x, &n);

				if (!old) {
					c->fail = true;
					return;
				}
				policy_elems(c, old, n, false, buf);
				free(old);
			}
		}
		return;
	}
	for (unsigned s = 0; s < SU_NFT_SETS; s++) {
		const setchange *x = &sc[s];

		/* Deletions first: an interval set's boxes never overlap. */
		policy_elems(c, undo ? x->add : x->del, undo ? x->n_add : x->n_del, true, buf);
		policy_elems(c, undo ? x->del : x->add, undo ? x->n_del : x->n_add, false, buf);
	}
}

/* Compare-and-swap of the generation element: the deletion fails (and
 * with it the transaction) unless the kernel holds @from. */
static void gen_swap(ctx *c, uint32_t from, uint32_t to)
{
	elems E;

	elems_begin(&E, c, NFPROTO_INET, "generation", true);
	elems_put(&E, &from, 4, NULL, 0, NULL);
	elems_flush(&E);
	elems_begin(&E, c, NFPROTO_INET, "generation", false);
	elems_put(&E, &to, 4, NULL, 0, NULL);
	elems_flush(&E);
}

static void ports_change(ctx *c, const su_nft_delta *d, bool undo)
{
	const su_nft_port *pd = undo ? d->port_add : d->port_del;
	const su_nft_port *pa = undo ? d->port_del : d->port_add;
	size_t nd = undo ? d->n_port_add : d->n_port_del;
	size_t na = undo ? d->n_port_del : d->n_port_add;

	for (size_t i = 0; i < nd; i++)
		port_del(c, &pd[i]);
	for (size_t i = 0; i < na; i++)
		port_add(c, &pa[i]);
}

/*
 * A change, in three transactions. Packets are judged by one buffer, gen &
 * 1; at rest both hold the policy in force.
 *   1. The generation G becomes STAGED(G); the standby buffer becomes the
 *      new policy. No packet sees that buffer.
 *   2. STAGED(G) becomes SWAPPED(G + 1); the ports change; chain "dispatch"
 *      is emptied and sends packets to the standby buffer. The kernel
 *      replaces a chain's rules at once when it commits, so every packet
 *      is judged by the old policy or by the new one, never by a mix.
 *   3. SWAPPED(G + 1) becomes G + 1; the old buffer becomes the new policy.
 * If 1 fails nothing changed. If 2 fails, the standby buffer is put back
 * (and if that fails too, the generation stays STAGED(G): the library
 * installs everything again next time, which nobody's packets notice). If 3
 * fails the new policy is in force and the generation stays SWAPPED(G + 1),
 * with the same outcome; the change is reported done.
 */
static int op_update(const su_nft_net *net, const su_nft_delta *d, unsigned int flags,
		     su_nft_err *err)
{
	uint32_t g = d->generation_old & GEN_MASK, g1 = d->generation_new & GEN_MASK;
	int active = GEN_BUF(g), standby = !active;
	setchange sc[SU_NFT_SETS];
	ctx c = { .net = net };
	int r;

	if (flags & ~SU_NFT_CHECK)
		return seterr(err, -EINVAL, "unknown flags");
	if (g1 != ((g + 1) & GEN_MASK) || d->generation_old != g)
		return seterr(err, -EINVAL, "generation %u cannot follow %u", d->generation_new,
			      d->generation_old);
	r = setchanges_make(d, sc);
	if (r < 0)
		return seterr(err, r, "cannot sort the change: %s", strerror(-r));

	/* A check: the whole change in one transaction the kernel discards. */
	if (flags & SU_NFT_CHECK) {
		if (batch_init(&c.b) < 0) {
			r = seterr(err, -ENOMEM, "out of memory");
			goto out;
		}
		gen_swap(&c, g, g1);
		buffer_change(&c, sc, standby, false);
		ports_change(&c, d, false);
		flush_chain(&c, NFPROTO_INET, "dispatch");
		put_dispatch(&c, standby);
		buffer_change(&c, sc, active, false);
		r = finish(&c, false, fault_at(1), err);
		goto out;
	}

	/* 1 */
	if (batch_init(&c.b) < 0) {
		r = seterr(err, -ENOMEM, "out of memory");
		goto out;
	}
	gen_swap(&c, g, GEN_STAGED(g));
	buffer_change(&c, sc, standby, false);
	r = finish(&c, true, fault_at(1), err);
	if (r < 0)
		goto out;

	/* 2 */
	if (batch_init(&c.b) < 0) {
		r = seterr(err, -ENOMEM, "out of memory");
		goto out;
	}
	gen_swap(&c, GEN_STAGED(g), GEN_SWAPPED(g1));
	ports_change(&c, d, false);
	flush_chain(&c, NFPROTO_INET, "dispatch");
	put_dispatch(&c, standby);
	r = finish(&c, true, fault_at(2), err);
	if (r < 0) {
		su_nft_err e2 = { 0 };

		if (batch_init(&c.b) == 0) {
			gen_swap(&c, GEN_STAGED(g), g);
			buffer_change(&c, sc, standby, true);
			if (finish(&c, true, false, &e2) < 0)
				snprintf(err->message + strlen(err->message),
					 sizeof(err->message) - strlen(err->message),
					 "; putting the standby buffer back failed too: %s",
					 e2.message);
		}
		goto out;
	}

	/* 3: the change is in force; this only brings the old buffer along. */
	if (batch_init(&c.b) == 0) {
		su_nft_err e3 = { 0 };

		gen_swap(&c, GEN_SWAPPED(g1), g1);
		buffer_change(&c, sc, active, false);
		finish(&c, true, fault_at(3), &e3);
	}
	r = 0;
out:
	setchanges_free(sc);
	return r;
}

/* One batch: each port's limit chain emptied and filled anew. A packet
 * meets the old limit or the new one; the new one starts with a full
 * burst and its drop counter at 0. */
static int op_flood(const su_nft_net *net, const su_nft_port *ports, size_t n_ports,
		    su_nft_err *err)
{
	ctx c = { .net = net };

	if (net->flood_rate && !net->flood_burst)
		return seterr(err, -EINVAL, "a broadcast limit needs a burst of at least 1");
	if (batch_init(&c.b) < 0)
		return seterr(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n_ports; i++) {
		char fc[32];

		flush_chain(&c, NFPROTO_BRIDGE, flood_chain_name(&ports[i], fc));
		flood_rule(&c, &ports[i]);
	}
	return finish(&c, true, false, err);
}

static int op_remove(const su_nft_net *net, su_nft_err *err)
{
	ctx c = { .net = net };
	int have_b = table_exists(net->fd, net->table, NFPROTO_BRIDGE);
	int have_i = table_exists(net->fd, net->table, NFPROTO_INET);

	if (have_b < 0 || have_i < 0)
		return seterr(err, have_b < 0 ? have_b : have_i, "cannot look up table %s: %s",
			      net->table, strerror(-(have_b < 0 ? have_b : have_i)));
	if (!have_b && !have_i)
		return 0;
	if (batch_init(&c.b) < 0)
		return seterr(err, -ENOMEM, "out of memory");
	if (have_b)
		put_table(&c, NFT_MSG_DELTABLE, NFPROTO_BRIDGE, 0, false);
	if (have_i)
		put_table(&c, NFT_MSG_DELTABLE, NFPROTO_INET, 0, false);
	return finish(&c, true, false, err);
}

/* ---- reading elements ---- */

typedef int (*elem_fn)(struct nftnl_set_elem *e, void *data);

struct elem_dump {
	elem_fn fn;
	void *data;
	int r;
};

static int elem_dump_cb(const struct nlmsghdr *h, void *data)
{
	struct elem_dump *d = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (!s) {
		d->r = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_set_elems_nlmsg_parse(h, s) < 0) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	it = nftnl_set_elems_iter_create(s);
	/* _next() returns the current element, then moves on. */
	while (it && d->r >= 0 && (e = nftnl_set_elems_iter_next(it))) {
		int r = d->fn(e, d->data);

		if (r < 0)
			d->r = r;
	}
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return d->r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int dump_elems(int fd, const char *table, uint16_t family, const char *set, elem_fn fn,
		      void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct elem_dump d = { fn, data, 0 };
	char buf[1024];
	struct nlmsghdr *h;
	int r;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_DUMP | NLM_F_ACK,
				  ++req_seq);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	r = talk(fd, h, elem_dump_cb, &d);
	return d.r < 0 ? d.r : r;
}

static int gen_cb(struct nftnl_set_elem *e, void *data)
{
	uint32_t len = 0;
	const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

	if (k && len == 4)
		memcpy(data, k, 4);
	return 0;
}

static int op_generation(const su_nft_net *net, uint32_t *ret, su_nft_err *err)
{
	uint32_t g = 0;
	int r = dump_elems(net->fd, net->table, NFPROTO_INET, "generation", gen_cb, &g);

	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0)
		return seterr(err, r, "cannot read the generation of table %s: %s", net->table,
			      strerror(-r));
	if (!g)
		return -ENOENT;
	/* Both tables or none: a lone inet table is a half-removed network. */
	r = table_exists(net->fd, net->table, NFPROTO_BRIDGE);
	if (r <= 0)
		return r < 0 ? seterr(err, r, "cannot look up table %s", net->table) : -ENOENT;
	*ret = g;
	return 0;
}

struct counter_ctx {
	su_nft_counter_fn fn;
	void *data;
	int kind;
	unsigned set;
	int family;
};

static int counter_expr_cb(struct nftnl_expr *e, void *data)
{
	su_nft_counter *c = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (name && strcmp(name, "counter") == 0) {
		c->packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		c->bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	return 0;
}

static void decode_elem(unsigned set, const uint8_t *k, const uint8_t *kend, su_nft_elem *e)
{
	bool v6 = set & SU_NFT_SET_V6;
	unsigned kind = SU_NFT_SET_KIND(set);
	uint32_t alen = v6 ? 16 : 4, o = 0;

	memset(e, 0, sizeof(*e));
	e->set = (uint8_t)set;
	memcpy(e->src_lo, k, alen);
	memcpy(e->src_hi, kend ? kend : k, alen);
	o += alen;
	memcpy(e->dst_lo, k + o, alen);
	memcpy(e->dst_hi, (kend ? kend : k) + o, alen);
	o += alen;
	if (kind == SU_NFT_KIND_ANY)
		return;
	e->proto_lo = k[o];
	e->proto_hi = (kend ? kend : k)[o];
	o += 4;
	if (kind == SU_NFT_KIND_PROTO)
		return;
	e->port_lo = (uint16_t)(k[o] << 8 | k[o + 1]);
	e->port_hi = (uint16_t)((kend ? kend : k)[o] << 8 | (kend ? kend : k)[o + 1]);
}

static int counter_elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct counter_ctx *cc = data;
	su_nft_counter c;
	uint32_t len = 0, elen = 0;
	const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	const uint8_t *kend = NULL;

	memset(&c, 0, sizeof(c));
	c.kind = cc->kind;
	if (!k)
		return 0;
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END))
		kend = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &elen);
	switch (cc->kind) {
	case SU_NFT_C_ELEM: {
		uint8_t want = 0;

		switch (SU_NFT_SET_KIND(cc->set)) {
		case SU_NFT_KIND_ANY:
			want = (cc->set & SU_NFT_SET_V6) ? 32 : 8;
			break;
		case SU_NFT_KIND_PROTO:
			want = (cc->set & SU_NFT_SET_V6) ? 36 : 12;
			break;
		default:
			want = (cc->set & SU_NFT_SET_V6) ? 40 : 16;
			break;
		}
		if (len != want || (kend && elen != want))
			return 0;
		decode_elem(cc->set, k, kend, &c.elem);
		break;
	}
	case SU_NFT_C_HOST:
	case SU_NFT_C_FORWARD:
		if (len != 16)
			return 0;
		memcpy(c.ifname, k, 15);
		break;
	default:
		if (len != (cc->family == 6 ? 16u : 4u))
			return 0;
		c.family = cc->family;
		memcpy(c.addr, k, len);
		break;
	}
	nftnl_set_elem_expr_foreach(e, counter_expr_cb, &c);
	return cc->fn(&c, cc->data);
}

struct rule_dump {
	su_nft_counter_fn fn;
	void *data;
	int r;
};

static int rule_udata_cb(const struct nftnl_udata *attr, void *data)
{
	const char **comment = data;

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
		const char *v = nftnl_udata_get(attr);
		uint8_t len = nftnl_udata_len(attr);

		if (len > 0 && v[len - 1] == '\0')
			*comment = v;
	}
	return 0;
}

static int rule_dump_cb(const struct nlmsghdr *h, void *data)
{
	struct rule_dump *d = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	const char *comment = NULL;
	const void *ud;
	uint32_t ulen = 0;
	su_nft_counter c;

	if (!r) {
		d->r = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_rule_nlmsg_parse(h, r) < 0 || !nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	if (ud)
		nftnl_udata_parse(ud, ulen, rule_udata_cb, &comment);
	memset(&c, 0, sizeof(c));
	if (comment) {
		char a[32], b[32], t[32];
		int n = sscanf(comment, "%31s %31s %31s", a, b, t);

		if (n == 3 && strcmp(a, "port") == 0) {
			c.kind = SU_NFT_C_PORT_DROP;
			snprintf(c.ifname, sizeof(c.ifname), "%.15s", b);
			snprintf(c.tag, sizeof(c.tag), "%.15s", t);
		} else if (n == 2 && strcmp(a, "total") == 0) {
			c.kind = SU_NFT_C_TOTAL;
			snprintf(c.tag, sizeof(c.tag), "%.15s", b);
		}
	}
	if (c.kind) {
		nftnl_expr_foreach(r, counter_expr_cb, &c);
		if (d->r >= 0) {
			int k = d->fn(&c, d->data);

			if (k < 0)
				d->r = k;
		}
	}
	nftnl_rule_free(r);
	return d->r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int dump_rules(int fd, const char *table, uint16_t family, su_nft_counter_fn fn,
		      void *data)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct rule_dump d = { fn, data, 0 };
	char buf[1024];
	struct nlmsghdr *h;
	int k;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, family, NLM_F_DUMP | NLM_F_ACK, ++req_seq);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	k = talk(fd, h, rule_dump_cb, &d);
	return d.r < 0 ? d.r : k;
}

static int op_counters(const su_nft_net *net, su_nft_counter_fn fn, void *data,
		       su_nft_err *err)
{
	struct counter_ctx cc = { fn, data, 0, 0, 0 };
	static const struct { const char *set; uint16_t family; int kind, fam; } sets[] = {
		{ "host-ports", NFPROTO_BRIDGE, SU_NFT_C_HOST, 0 },
		{ "forward-ports", NFPROTO_BRIDGE, SU_NFT_C_FORWARD, 0 },
		{ "refused-from4", NFPROTO_INET, SU_NFT_C_OUT, 4 },
		{ "refused-to4", NFPROTO_INET, SU_NFT_C_IN, 4 },
		{ "refused-from6", NFPROTO_INET, SU_NFT_C_OUT, 6 },
		{ "refused-to6", NFPROTO_INET, SU_NFT_C_IN, 6 },
	};
	int r;

	r = dump_rules(net->fd, net->table, NFPROTO_BRIDGE, fn, data);
	if (r >= 0)
		r = dump_rules(net->fd, net->table, NFPROTO_INET, fn, data);
	for (size_t i = 0; r >= 0 && i < sizeof(sets) / sizeof(sets[0]); i++) {
		cc.kind = sets[i].kind;
		cc.family = sets[i].fam;
		r = dump_elems(net->fd, net->table, sets[i].family, sets[i].set, counter_elem_cb, &cc);
	}
	/* Both buffers: an element counts in whichever judged the packets, so
	 * the library adds the two up. */
	for (int buf = 0; buf < NBUF; buf++)
		for (unsigned s = 0; r >= 0 && s < SU_NFT_SETS; s++) {
			char name[32];

			cc.kind = SU_NFT_C_ELEM;
			cc.set = s;
			r = dump_elems(net->fd, net->table, NFPROTO_INET, buf_set(s, buf, name),
				       counter_elem_cb, &cc);
		}
	if (r < 0)
		return seterr(err, r, "cannot read the counters of table %s: %s", net->table,
			      strerror(-r));
	return 0;
}

struct table_list {
	const char *prefix;
	int (*fn)(const char *, void *);
	void *data;
	int r;
};

static int table_cb(const struct nlmsghdr *h, void *data)
{
	struct table_list *tl = data;
	struct nftnl_table *t = nftnl_table_alloc();
	const char *name;

	if (!t) {
		tl->r = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_table_nlmsg_parse(h, t) == 0 &&
	    (name = nftnl_table_get_str(t, NFTNL_TABLE_NAME)) &&
	    strncmp(name, tl->prefix, strlen(tl->prefix)) == 0 && tl->r >= 0) {
		int r = tl->fn(name, tl->data);

		if (r < 0)
			tl->r = r;
	}
	nftnl_table_free(t);
	return tl->r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int op_list_tables(int fd, const char *prefix, int (*fn)(const char *, void *),
			  void *data, su_nft_err *err)
{
	struct table_list tl = { prefix, fn, data, 0 };
	char buf[1024];
	struct nlmsghdr *h =
		nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, ++req_seq);
	int r = talk(fd, h, table_cb, &tl);

	if (tl.r < 0)
		r = tl.r;
	if (r < 0)
		return seterr(err, r, "cannot list nftables tables: %s", strerror(-r));
	return 0;
}

static const su_nft_ops ops = {
	.version = SU_NFT_OPS_VERSION,
	.describe = op_describe,
	.install = op_install,
	.update = op_update,
	.remove = op_remove,
	.generation = op_generation,
	.counters = op_counters,
	.list_tables = op_list_tables,
	.flood = op_flood,
};

EXPORT const su_nft_ops *soda_nft_plugin_ops(uint32_t version)
{
	return version == SU_NFT_OPS_VERSION ? &ops : NULL;
}
