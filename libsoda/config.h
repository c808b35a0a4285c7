/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The server configuration's insides, for the core and the backends. */
#ifndef SODA_CONFIG_H
#define SODA_CONFIG_H

#include <soda/server.h>
#include <soda/shares.h>

#include "util.h"

typedef struct su_share {
	char *host_dir;
	char *guest_dir;
	unsigned int flags;
} su_share;

typedef struct su_nic {
	char *network;
	char *mac;
	char **addresses; /* CIDR strings, normalised */
} su_nic;

struct soda_shares {
	uint32_t cpu_weight; /* never 0 */
	uint32_t cpu_max;    /* percent of one CPU; 0: no cap */
	char *cpus;          /* normalised CPU list; NULL: all */
	uint64_t memory_max; /* 0: guest memory + SODA_MEMORY_OVERHEAD_DEFAULT */
	uint32_t pids_max;   /* 0: SODA_PIDS_DEFAULT */
	uint64_t rate[2];    /* [0] out, [1] in; bits/s; 0: unlimited */
	uint64_t burst[2];   /* bytes; 0: default */
};

struct soda_server_config {
	char *name;
	char *image;
	uint64_t memory;
	char **kernel_args;
	su_share *shares;
	size_t n_shares;
	su_nic *nics;
	size_t n_nics;
	char **labels;
	soda_shares *resources; /* resource shares; NULL: all defaults */
	bool blackbox;          /* the tenant's blackbox key is set */
	bool blackbox_has_sign;
	uint8_t blackbox_box[32];  /* X25519 public key: guest streams are sealed to it */
	uint8_t blackbox_sign[32]; /* Ed25519 public key, if given */
	uint32_t guest_profile;    /* SODA_GUEST_PROFILE_* */
	uint32_t blackbox_retention; /* SODA_BLACKBOX_RETENTION_* */
	uint64_t blackbox_quota;     /* bytes; 0: the store's default */
	bool ids_landlord;           /* port IDS alert metadata to the landlord */
	uint32_t ids_response;       /* SODA_IDS_RESPONSE_* */
	uint32_t ids_response_priority; /* 1..255; 0 read as 1 */
	uint64_t ids_bypass_depth;   /* port IDS flow bypass, bytes; 0 off */
	char *ids_rules;             /* Kernort in the guest: the rule text, or NULL */
	char ids_rules_sha256[65];   /* its SHA-256 in hex, as the checker gave it */
	bool ids_packets;            /* ... also on the frames the guest receives */
};

/* The memory backstop a server actually gets. */
uint64_t su_shares_memory_max(const soda_shares *s, uint64_t guest_memory);
uint32_t su_shares_pids_max(const soda_shares *s);
/* True if any bandwidth limit is set. */
bool su_shares_have_bandwidth(const soda_shares *s);
/* Checks shares against a guest memory size (a backstop above it). */
int su_shares_check_memory(const soda_shares *s, uint64_t guest_memory, soda_error **error);

#define SU_CONFIG_MAGIC "soda-server"
#define SU_CONFIG_VERSION 1

/* Serialises to the record format (kv.h). NULL on allocation failure. */
char *su_config_serialize(const soda_server_config *cfg);
/* Parses what su_config_serialize() wrote, validating every field as the
 * setters do; errors name @source and the line. */
int su_config_parse(soda_server_config **ret, const char *text, size_t len, const char *source,
		    soda_error **error);
/* Checks the whole configuration (used before define). */
int su_config_validate(const soda_server_config *cfg, soda_error **error);
/* Refuses a share of a sensitive host path (/, /proc, /sys, /dev, /boot,
 * /etc, /root and what lies beneath them; the state directory @state_dir,
 * any of its parents or the library's own entries in it (servers, images,
 * blackbox, run, status...); NULL: not checked) unless @flags has
 * SODA_SHARE_ALLOW_SENSITIVE: -EPERM naming the path. */
int su_share_check_host_dir(const char *host_dir, const char *state_dir, unsigned int flags,
			    soda_error **error);
/* The same for every share of @cfg. */
int su_config_check_shares(const soda_server_config *cfg, const char *state_dir,
			   soda_error **error);
/* The tenant key as "BOXHEX" or "BOXHEX/SIGNHEX" (the record's and the
 * launch spec's form); NULL on allocation failure. */
char *su_blackbox_key_text(const soda_server_config *cfg);
/* "POLICY QUOTA" for soda-monitor ("drop-oldest 1073741824"), NULL on
 * allocation failure. */
char *su_blackbox_retention_text(const soda_server_config *cfg);
int su_blackbox_retention_parse_text(soda_server_config *cfg, const char *text, soda_error **error);
/* Parses that form into cfg. */
int su_blackbox_key_parse_text(soda_server_config *cfg, const char *text, soda_error **error);

/* Checks a server, image or network name (what says which). */
int su_check_name(const char *what, const char *name, soda_error **error);
/* Host memory in bytes (MemTotal), 0 if unknown. */
uint64_t su_host_memory(void);
/* Stable locally administered unicast MAC for (server, index). */
void su_derive_mac(const char *server, size_t index, char out[18]);
/* Parses "A.B.C.D/N" or "IPV6/N" into family (AF_INET/AF_INET6), 16 address
 * bytes and prefix; writes the normalised text to out (64 bytes). */
int su_parse_cidr(const char *cidr, int *ret_family, unsigned char ret_addr[16],
		  unsigned *ret_prefix, char out[64], soda_error **error);
/* Checks an absolute, normalised path ("/a/b", no "." or ".." parts, no "//",
 * no trailing '/', no control bytes). */
int su_check_abs_path(const char *what, const char *path, size_t max, soda_error **error);

#endif
