/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sodactl's server commands: define, lifecycle, inspection, console, exec,
 * events, shares. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <soda/sys/backend.h>

#include "sodactl.h"
#include "commands.h"

/* ---- create ------------------------------------------------------------ */

const struct cli_option sctl_create_options[] = {
	{ "image", 0, "IMG", 0, "the guest image (default busybox)", 'i' },
	{ "memory", 0, "MIB", 0, "guest memory in MiB (default 64)", 0 },
	{ "kernel-arg", 0, "ARG", CLI_OPT_REPEAT, "an extra guest kernel argument", 0 },
	{ "share", 0, "HOST:GUEST[:MODE]", CLI_OPT_REPEAT,
	  "a host directory in the guest; MODE ro or rw, ',sensitive' to share /etc, the state directory... on purpose", 0 },
	{ "nic", 0, "NETWORK[,MAC]", CLI_OPT_REPEAT, "a NIC on a network's switch", 'n' },
	{ "address", 0, "NIC:CIDR", CLI_OPT_REPEAT, "an address of NIC number NIC (from 0)", 0 },
	{ "label", 0, "LABEL", CLI_OPT_REPEAT, "a label (a group in firewall policies)", 0 },
	{ "shares", 0, "SPEC", 0, "resource shares (SPEC above)", 0 },
	{ "blackbox", 0, "TENANT.pub", 0, "a blackbox sealed to that public key (soda-blackbox keygen)", 'f' },
	{ "blackbox-retention", 0, "stop|drop-oldest[:QUOTA-MIB]", 0,
	  "at the blackbox quota (default 1024 MiB): refuse new records, or delete the oldest", 0 },
	{ "guest-profile", 0, "locked|open", 0,
	  "locked (default): no modules, /dev/mem or ptrace of PID 1 for root in the guest; open: all of them", 0 },
	{ "ids-rules", 0, "FILE", 0,
	  "Kernort in the guest: rules on its programs, console, files, sockets and logs; alerts into the blackbox", 'f' },
	{ "ids-guest-packets", 0, NULL, 0,
	  "with --ids-rules: the packet rules also run in the guest on the frames it receives (costs its CPU)", 0 },
	{ "ids-landlord-alerts", 0, NULL, 0, "the IDS's alert metadata may reach the landlord (sodactl ids alerts)", 0 },
	{ "ids-response", 0, "none|freeze:PRIORITY|dump:PRIORITY", 0,
	  "freeze, or dump (disk and memory, into STATE/dumps; it runs on), the server on a port IDS alert of PRIORITY or higher (1 is the highest)", 0 },
	{ "ids-bypass", 0, "BYTES", 0,
	  "the port IDS stops inspecting a TCP flow past BYTES (such as 1M) of stream and the kernel drops its packets before the copy (0: off, the default)", 0 },
	{ NULL },
};

/* The tenant's public key file (soda-blackbox keygen writes it); a secret
 * key file is refused: it must never be on the host. */
static int set_blackbox(soda_server_config *cfg, const char *path, soda_error **e)
{
#ifndef SODA_HAVE_BLACKBOX
	(void)cfg, (void)path;
	return soda_error_set(e, -EOPNOTSUPP, "this build has no blackbox");
#else
	soda_blackbox_key *key = NULL;
	uint8_t box[SODA_BLACKBOX_PUBLIC_KEY_BYTES];
	int r = soda_blackbox_key_load(&key, path, 0, e);

	if (r < 0)
		return r;
	if (soda_blackbox_key_has_secret(key)) {
		char msg[512];

		soda_blackbox_key_free(key);
		snprintf(msg, sizeof(msg),
			 "%s holds a secret key; give the tenant's public key file: the secret key "
			 "must never be on the host", path);
		return soda_error_set(e, -EINVAL, msg);
	}
	r = soda_blackbox_key_get_box_public(key, box, sizeof(box));
	if (r == 0)
		r = soda_server_config_set_blackbox(cfg, box, NULL, e);
	soda_blackbox_key_free(key);
	return r;
#endif
}

static int add_share(struct cli_call *c, soda_server_config *cfg, const char *arg, soda_error **e)
{
	char *spec = strdup(arg), *guest, *mode;
	unsigned int flags = 0;
	int r;

	guest = spec ? strchr(spec, ':') : NULL;
	if (!guest) {
		free(spec);
		return cli_usage_error(c, "--share takes HOST:GUEST[:MODE], not '%s'", arg);
	}
	*guest++ = '\0';
	mode = strchr(guest, ':');
	if (mode)
		*mode++ = '\0';
	for (char *save = NULL, *w = mode ? strtok_r(mode, ",", &save) : NULL; w;
	     w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "ro") == 0)
			flags |= SODA_SHARE_READONLY;
		else if (strcmp(w, "sensitive") == 0)
			flags |= SODA_SHARE_ALLOW_SENSITIVE;
		else if (strcmp(w, "rw") != 0) {
			r = cli_usage_error(c, "--share mode must be ro, rw or sensitive, not '%s'", w);
			free(spec);
			return r;
		}
	}
	r = soda_server_config_add_share(cfg, spec, guest, flags, e) < 0 ? -1 : 0;
	free(spec);
	return r;
}

static int set_retention(struct cli_call *c, soda_server_config *cfg, const char *arg, soda_error **e)
{
	char name[32];
	const char *colon = strchr(arg, ':');
	unsigned long long quota_mib = 0;
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
	uint32_t policy;

	snprintf(name, sizeof(name), "%.*s", (int)(n < 31 ? n : 31), arg);
	if (colon && !cli_parse_u64(colon + 1, 1ull << 30, &quota_mib))
		return cli_usage_error(c, "bad blackbox quota '%s' (MiB)", colon + 1);
	if (soda_blackbox_retention_from_name(&policy, name, e) < 0 ||
	    soda_server_config_set_blackbox_retention(cfg, policy, quota_mib << 20, e) < 0)
		return -1;
	return 0;
}

/* Applies the options in the order given; a positive return is a usage
 * error's exit code, -1 a library error in *e. */
static int apply_create_options(struct cli_call *c, soda_server_config *cfg, soda_error **e)
{
	for (size_t i = 0; i < c->n_values; i++) {
		const char *o = c->values[i].opt->name, *v = c->values[i].value;
		int r = 0;

		if (strcmp(o, "image") == 0) {
			r = soda_server_config_set_image(cfg, v, e);
		} else if (strcmp(o, "memory") == 0) {
			unsigned long long mib;

			if (!cli_parse_u64(v, 1ull << 40, &mib))
				return cli_usage_error(c, "--memory takes MiB, not '%s'", v);
			r = soda_server_config_set_memory(cfg, mib << 20, e);
		} else if (strcmp(o, "kernel-arg") == 0) {
			r = soda_server_config_add_kernel_arg(cfg, v, e);
		} else if (strcmp(o, "share") == 0) {
			r = add_share(c, cfg, v, e);
			if (r > 0)
				return r;
		} else if (strcmp(o, "nic") == 0) {
			char *spec = strdup(v), *mac;

			if (!spec) {
				soda_error_set(e, -ENOMEM, "out of memory");
				return -1;
			}
			mac = strchr(spec, ',');
			if (mac)
				*mac++ = '\0';
			r = soda_server_config_add_nic(cfg, spec, mac, 0, e);
			free(spec);
		} else if (strcmp(o, "address") == 0) {
			char *end;
			unsigned long nic = strtoul(v, &end, 10);

			if (end == v || *end != ':')
				return cli_usage_error(c, "--address takes NIC:CIDR, not '%s'", v);
			r = soda_server_config_add_nic_address(cfg, nic, end + 1, e);
		} else if (strcmp(o, "label") == 0) {
			r = soda_server_config_add_label(cfg, v, e);
		} else if (strcmp(o, "shares") == 0) {
			soda_shares *sh = NULL;

			r = soda_shares_parse(&sh, v, e);
			if (r == 0)
				r = soda_server_config_set_shares(cfg, sh, e);
			soda_shares_free(sh);
		} else if (strcmp(o, "blackbox") == 0) {
			r = set_blackbox(cfg, v, e);
		} else if (strcmp(o, "blackbox-retention") == 0) {
			r = set_retention(c, cfg, v, e);
			if (r > 0)
				return r;
		} else if (strcmp(o, "ids-rules") == 0) {
			/* Checked now: a bad rule is refused with its line and column. */
			char *abs = sctl_absolute(v);

			if (!abs) {
				soda_error_set(e, -ENOMEM, "out of memory");
				return -1;
			}
			r = soda_server_config_set_ids_rules(cfg, abs,
							     cli_has(c, "ids-guest-packets")
								     ? SODA_IDS_RULES_GUEST_PACKETS
								     : 0,
							     e);
			free(abs);
		} else if (strcmp(o, "ids-guest-packets") == 0) {
			if (!cli_has(c, "ids-rules"))
				return cli_usage_error(c, "--ids-guest-packets goes with --ids-rules");
		} else if (strcmp(o, "ids-landlord-alerts") == 0 || strcmp(o, "ids-response") == 0 ||
			   strcmp(o, "ids-bypass") == 0) {
			r = sodactl_ids_create_option(cfg, o, v, e);
		} else if (strcmp(o, "guest-profile") == 0) {
			uint32_t profile;

			r = soda_guest_profile_from_name(&profile, v, e);
			if (r == 0)
				r = soda_server_config_set_guest_profile(cfg, profile, e);
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

int sctl_create(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int r;

	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_server_config_new(&cfg, c->argv[0], &e) < 0)
		return sctl_fail(e, "bad name");
	r = apply_create_options(c, cfg, &e);
	if (r > 0) {
		soda_server_config_free(cfg);
		return r;
	}
	if (r < 0)
		r = sctl_fail(e, "bad configuration");
	else if (soda_server_define(&srv, ctx, cfg, 0, &e) < 0)
		r = sctl_fail(e, "cannot create the server");
	else
		printf("created %s\n", c->argv[0]);
	soda_server_unref(srv);
	soda_server_config_free(cfg);
	return r;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int timeout_ms(struct cli_call *c, uint32_t dflt_ms, uint32_t *ms)
{
	const char *v = cli_get(c, "timeout");
	unsigned long long sec;

	*ms = dflt_ms;
	if (!v)
		return 0;
	if (!cli_parse_u64(v, 86400, &sec))
		return cli_usage_error(c, "--timeout takes seconds (at most 86400), not '%s'", v);
	*ms = (uint32_t)sec * 1000;
	return 0;
}

int sctl_lifecycle(struct cli_call *c)
{
	const char *cmd = c->cmd->path, *name = c->argv[0];
	soda_server *srv = NULL;
	soda_error *e = NULL;
	uint32_t timeout = 10000;
	int r, rc, state = 0;

	rc = timeout_ms(c, 10000, &timeout);
	if (rc)
		return rc;
	rc = sctl_server(c, name, &srv);
	if (rc)
		return rc;
	if (strcmp(cmd, "start") == 0)
		r = soda_server_start(srv, cli_has(c, "no-wait") ? 0 : SODA_START_WAIT_READY, &e);
	else if (strcmp(cmd, "stop") == 0)
		r = soda_server_stop(srv, timeout, 0, &e);
	else if (strcmp(cmd, "restart") == 0)
		r = soda_server_restart(srv, timeout, SODA_START_WAIT_READY, &e);
	else if (strcmp(cmd, "kill") == 0)
		r = soda_server_kill(srv, 0, &e);
	else if (strcmp(cmd, "freeze") == 0)
		r = soda_server_freeze(srv, 0, &e);
	else
		r = soda_server_thaw(srv, 0, &e);
	if (r < 0) {
		rc = sctl_fail(e, name);
	} else {
		soda_server_get_state(&state, srv, NULL);
		if (c->json) {
			struct json j;

			sctl_json(&j);
			json_object_begin(&j, NULL);
			json_str(&j, "name", name);
			json_str(&j, "state", soda_state_name(state));
			json_object_end(&j);
			json_finish(&j);
		} else {
			printf("%s: %s\n", name, soda_state_name(state));
		}
	}
	soda_server_unref(srv);
	return rc;
}

int sctl_destroy(struct cli_call *c)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int state = 0, rc;

	rc = sctl_server(c, c->argv[0], &srv);
	if (rc)
		return rc;
	if (soda_server_get_state(&state, srv, &e) < 0) {
		soda_server_unref(srv);
		return sctl_fail(e, c->argv[0]);
	}
	if ((state != SODA_STATE_SHUTOFF && state != SODA_STATE_CRASHED &&
	     soda_server_kill(srv, 0, &e) < 0) ||
	    soda_server_undefine(srv, 0, &e) < 0)
		rc = sctl_fail(e, c->argv[0]);
	else
		printf("destroyed %s\n", c->argv[0]);
	soda_server_unref(srv);
	return rc;
}

int sctl_dump(struct cli_call *c)
{
	soda_server *srv = NULL;
	soda_error *e = NULL;
	char *dir = sctl_absolute(c->argv[1]);
	int rc;

	if (!dir)
		return CLI_EXIT_FAIL;
	rc = sctl_server(c, c->argv[0], &srv);
	if (!rc && soda_server_dump(srv, dir, cli_has(c, "memory") ? SODA_DUMP_MEMORY : 0, &e) < 0)
		rc = sctl_fail(e, c->argv[0]);
	else if (!rc)
		printf("dumped %s to %s\n", c->argv[0], dir);
	free(dir);
	soda_server_unref(srv);
	return rc;
}

/* ---- list and info ------------------------------------------------------- */

static void json_server(struct json *j, soda_server *srv, soda_server_info *info,
			soda_server_config *cfg, bool full)
{
	uint8_t box[32];
	char *text = NULL, *bbdir = NULL;
	soda_shares *sh = NULL;
	uint64_t quota = 0;

	json_object_begin(j, NULL);
	json_str(j, "name", soda_server_get_name(srv));
	json_str(j, "state", soda_state_name(soda_server_info_get_state(info)));
	json_str(j, "reason", soda_server_info_get_reason(info));
	json_str(j, "image", soda_server_config_get_image(cfg));
	json_uint(j, "memory_mib", soda_server_config_get_memory(cfg) >> 20);
	json_uint(j, "uid", soda_server_info_get_uid(info));
	json_bool(j, "ready", soda_server_info_get_ready(info));
	json_int(j, "monitor_pid", soda_server_info_get_monitor_pid(info));
	json_int(j, "guest_pid", soda_server_info_get_guest_pid(info));
	json_uint(j, "started_usec", soda_server_info_get_started_usec(info));
	json_uint(j, "ready_usec", soda_server_info_get_ready_usec(info));
	json_array_begin(j, "labels");
	for (size_t i = 0; i < soda_server_config_get_label_count(cfg); i++)
		json_str(j, NULL, soda_server_config_get_label(cfg, i));
	json_array_end(j);
	if (full) {
		json_int(j, "exit_code", soda_server_info_get_exit_code(info));
		json_int(j, "exit_signal", soda_server_info_get_exit_signal(info));
		json_array_begin(j, "kernel_args");
		for (size_t i = 0; i < soda_server_config_get_kernel_arg_count(cfg); i++)
			json_str(j, NULL, soda_server_config_get_kernel_arg(cfg, i));
		json_array_end(j);
		json_array_begin(j, "shares");
		for (size_t i = 0; i < soda_server_config_get_share_count(cfg); i++) {
			const char *h, *g;
			unsigned int f;

			soda_server_config_get_share(cfg, i, &h, &g, &f);
			json_object_begin(j, NULL);
			json_str(j, "host", h);
			json_str(j, "guest", g);
			json_bool(j, "readonly", f & SODA_SHARE_READONLY);
			json_bool(j, "sensitive", f & SODA_SHARE_ALLOW_SENSITIVE);
			json_object_end(j);
		}
		json_array_end(j);
		json_array_begin(j, "nics");
		for (size_t i = 0; i < soda_server_config_get_nic_count(cfg); i++) {
			const char *net = NULL, *mac = NULL;

			soda_server_config_get_nic(cfg, i, &net, &mac);
			json_object_begin(j, NULL);
			json_uint(j, "index", i);
			json_str(j, "network", net);
			json_str(j, "mac", mac);
			json_array_begin(j, "addresses");
			for (size_t a = 0; a < soda_server_config_get_nic_address_count(cfg, i); a++)
				json_str(j, NULL, soda_server_config_get_nic_address(cfg, i, a));
			json_array_end(j);
			json_object_end(j);
		}
		json_array_end(j);
		if (soda_server_config_get_shares(&sh, cfg, NULL) == 0 &&
		    soda_shares_format(&text, sh, NULL) == 0)
			json_str(j, "resource_shares", text);
		else
			json_null(j, "resource_shares");
		json_str(j, "guest_profile",
			 soda_guest_profile_name(soda_server_config_get_guest_profile(cfg)));
		if (soda_server_config_get_blackbox(cfg, box) == 1) {
			char hex[65];

			for (int i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", box[i]);
			json_object_begin(j, "blackbox");
			json_str(j, "tenant_public_key", hex);
			if (soda_server_get_blackbox_dir(&bbdir, srv, NULL) == 0)
				json_str(j, "store", bbdir);
			else
				json_null(j, "store");
			json_str(j, "retention", soda_blackbox_retention_name(
							 soda_server_config_get_blackbox_retention(cfg, &quota)));
			json_uint(j, "quota_bytes", quota ? quota : 1ull << 30);
			json_object_end(j);
		} else {
			json_null(j, "blackbox");
		}
	}
	json_object_end(j);
	free(text);
	soda_free(bbdir);
	soda_shares_free(sh);
}

static int show_server(soda_server *srv, struct json *j, bool full)
{
	soda_server_info *info = NULL;
	soda_server_config *cfg = NULL;
	soda_error *e = NULL;
	const char *name = soda_server_get_name(srv);

	if (soda_server_get_info(&info, srv, 0, &e) < 0 || soda_server_get_config(&cfg, srv, &e) < 0) {
		soda_server_info_free(info);
		return sctl_fail(e, name);
	}
	if (j) {
		json_server(j, srv, info, cfg, full);
	} else if (full) {
		char *text = NULL, *bbdir = NULL;
		soda_shares *sh = NULL;
		uint8_t box[32];

		printf("name:        %s\nstate:       %s (%s)\nimage:       %s\nmemory:      %" PRIu64
		       " MiB\njail uid:    %u\nmonitor pid: %d\nguest pid:   %d\nprofile:     %s\n",
		       name, soda_state_name(soda_server_info_get_state(info)),
		       soda_server_info_get_reason(info), soda_server_config_get_image(cfg),
		       soda_server_config_get_memory(cfg) >> 20, soda_server_info_get_uid(info),
		       soda_server_info_get_monitor_pid(info), soda_server_info_get_guest_pid(info),
		       soda_guest_profile_name(soda_server_config_get_guest_profile(cfg)));
		if (soda_server_info_get_ready_usec(info))
			printf("ready after: %.3f s\n", soda_server_info_get_ready_usec(info) / 1e6);
		for (size_t i = 0; i < soda_server_config_get_label_count(cfg); i++)
			printf("label:       %s\n", soda_server_config_get_label(cfg, i));
		for (size_t i = 0; i < soda_server_config_get_share_count(cfg); i++) {
			const char *h, *g;
			unsigned int f;

			soda_server_config_get_share(cfg, i, &h, &g, &f);
			printf("share:       %s -> %s (%s%s)\n", h, g, f & SODA_SHARE_READONLY ? "ro" : "rw",
			       f & SODA_SHARE_ALLOW_SENSITIVE ? ", sensitive" : "");
		}
		for (size_t i = 0; i < soda_server_config_get_nic_count(cfg); i++) {
			const char *net = NULL, *mac = NULL;

			soda_server_config_get_nic(cfg, i, &net, &mac);
			printf("nic %zu:       %s %s", i, net, mac ? mac : "(mac at start)");
			for (size_t a = 0; a < soda_server_config_get_nic_address_count(cfg, i); a++)
				printf(" %s", soda_server_config_get_nic_address(cfg, i, a));
			printf("\n");
		}
		if (soda_server_config_get_shares(&sh, cfg, NULL) == 0 &&
		    soda_shares_format(&text, sh, NULL) == 0 && *text)
			printf("shares:      %s\n", text);
		if (soda_server_config_get_blackbox(cfg, box) == 1 &&
		    soda_server_get_blackbox_dir(&bbdir, srv, NULL) == 0)
			printf("blackbox:    %s (%s)\n", bbdir,
			       soda_blackbox_retention_name(soda_server_config_get_blackbox_retention(cfg, NULL)));
		free(text);
		soda_free(bbdir);
		soda_shares_free(sh);
	} else {
		printf("%-24s %-9s %-12s %6" PRIu64 " MiB  %s\n", name,
		       soda_state_name(soda_server_info_get_state(info)),
		       soda_server_config_get_image(cfg), soda_server_config_get_memory(cfg) >> 20,
		       soda_server_info_get_reason(info));
	}
	soda_server_info_free(info);
	soda_server_config_free(cfg);
	return 0;
}

int sctl_list(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	char **names = NULL;
	soda_error *e = NULL;
	struct json j;
	size_t n;
	int rc = 0;

	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_context_list_servers(&names, &n, ctx, 0, &e) < 0)
		return sctl_fail(e, "cannot list servers");
	if (c->json) {
		sctl_json(&j);
		json_array_begin(&j, NULL);
	} else if (n) {
		printf("%-24s %-9s %-12s %10s  %s\n", "NAME", "STATE", "IMAGE", "MEMORY", "REASON");
	}
	for (size_t i = 0; i < n; i++) {
		soda_server *srv = NULL;

		if (soda_server_lookup(&srv, ctx, names[i], NULL) < 0)
			continue; /* undefined meanwhile */
		if (show_server(srv, c->json ? &j : NULL, false))
			rc = CLI_EXIT_FAIL;
		soda_server_unref(srv);
	}
	if (c->json) {
		json_array_end(&j);
		json_finish(&j);
	}
	soda_strv_free(names);
	return rc;
}

int sctl_info(struct cli_call *c)
{
	soda_server *srv = NULL;
	struct json j;
	int rc;

	rc = sctl_server(c, c->argv[0], &srv);
	if (rc)
		return rc;
	if (c->json)
		sctl_json(&j);
	rc = show_server(srv, c->json ? &j : NULL, true);
	if (c->json && rc == 0)
		json_finish(&j);
	soda_server_unref(srv);
	return rc;
}

/* ---- console, exec, events, recover -------------------------------------- */

int sctl_console(struct cli_call *c)
{
	struct termios saved, raw;
	bool tty = isatty(0);
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int fd = -1, rc;

	rc = sctl_server(c, c->argv[0], &srv);
	if (rc)
		return rc;
	if (soda_server_open_console(&fd, srv, 0, &e) < 0) {
		soda_server_unref(srv);
		return sctl_fail(e, c->argv[0]);
	}
	if (tty) {
		fprintf(stderr, "Connected to %s's console. Leave with Ctrl-].\r\n", c->argv[0]);
		tcgetattr(0, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	for (;;) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
		char buf[4096];
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0 || write(1, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0 || (tty && memchr(buf, 0x1d, (size_t)n)))
				break;
			if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
				break;
		}
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &saved);
		fprintf(stderr, "\nDisconnected.\n");
	}
	close(fd);
	soda_server_unref(srv);
	return 0;
}

/* Through the guest's agent (include/soda/exec.h): the exact status,
 * stdin passed through, stdout and stderr apart, nothing on the console. */
int sctl_exec(struct cli_call *c)
{
	soda_exec_options o = SODA_EXEC_OPTIONS_INIT;
	const char *shell[] = { "sh", "-c", NULL, NULL };
	const char **env = NULL;
	soda_server *srv = NULL;
	soda_error *e = NULL;
	int status = 0, rc, r;

	rc = timeout_ms(c, 60000, &o.timeout_ms);
	if (rc)
		return CLI_EXIT_EXEC_FAIL;
	o.user = cli_get(c, "user");
	o.cwd = cli_get(c, "cwd");
	env = cli_get_all(c, "env", NULL);
	for (size_t i = 0; env && env[i]; i++)
		if (!strchr(env[i], '=') || env[i][0] == '=') {
			cli_usage_error(c, "--env takes NAME=VALUE, not '%s'", env[i]);
			free(env);
			return CLI_EXIT_EXEC_FAIL;
		}
	o.env = env;
	o.stdin_fd = 0;
	o.stdout_fd = 1;
	o.stderr_fd = 2;
	fflush(stdout);
	rc = sctl_server(c, c->argv[0], &srv);
	if (rc) {
		free(env);
		return CLI_EXIT_EXEC_FAIL;
	}
	/* One argument is a shell command line ('ls; df'); several are the
	 * command's words, as they are. */
	shell[2] = c->argv[1];
	r = soda_server_exec(&status, srv,
			     c->argc == 2 ? shell : (const char *const *)(c->argv + 1), &o, 0, &e);
	if (r < 0) {
		sctl_fail(e, c->argv[0]);
		/* As shells and timeout(1) say it. */
		rc = r == -ENOENT ? 127 : r == -EACCES ? 126 : r == -ETIMEDOUT ? 124
									: CLI_EXIT_EXEC_FAIL;
	} else {
		rc = soda_exec_status_signal(status) ? 128 + soda_exec_status_signal(status)
						     : status;
	}
	free(env);
	soda_server_unref(srv);
	return rc;
}

struct events_state {
	long left;
	bool json;
};

static int print_event(soda_context *ctx, const soda_event *ev, void *userdata)
{
	struct events_state *st = userdata;
	static const char *const kinds[] = { "", "state", "defined", "undefined" };
	int kind = soda_event_get_kind(ev);

	(void)ctx;
	if (st->json) {
		struct json j;

		json_init(&j, stdout, false);
		json_object_begin(&j, NULL);
		json_str(&j, "kind", kinds[kind < 4 ? kind : 0]);
		json_str(&j, "server", soda_event_get_server(ev));
		json_str(&j, "previous_state", soda_state_name(soda_event_get_previous_state(ev)));
		json_str(&j, "state", soda_state_name(soda_event_get_state(ev)));
		json_str(&j, "reason", soda_event_get_reason(ev));
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("%s %s %s -> %s (%s)\n", kinds[kind < 4 ? kind : 0], soda_event_get_server(ev),
		       soda_state_name(soda_event_get_previous_state(ev)),
		       soda_state_name(soda_event_get_state(ev)), soda_event_get_reason(ev));
		fflush(stdout);
	}
	if (st->left > 0 && --st->left == 0)
		return -ECANCELED;
	return 0;
}

int sctl_events(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	struct events_state st = { -1, c->json };
	const char *count = cli_get(c, "count");
	soda_error *e = NULL;
	unsigned long long n;

	if (count) {
		if (!cli_parse_u64(count, 1ull << 31, &n) || n == 0)
			return cli_usage_error(c, "--count takes a positive number, not '%s'", count);
		st.left = (long)n;
	}
	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_context_add_event_handler(NULL, ctx, print_event, &st, NULL, 0, &e) < 0)
		return sctl_fail(e, "events");
	for (;;) {
		int r = soda_context_wait(ctx, -1, 0, &e);

		if (r == -ECANCELED)
			return 0;
		if (r < 0)
			return sctl_fail(e, "events");
	}
}

int sctl_recover(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	soda_error *e = NULL;
	int r;

	if (!ctx)
		return CLI_EXIT_FAIL;
	r = soda_context_recover(ctx, 0, &e);
	if (r < 0)
		return sctl_fail(e, "recover");
	printf("cleaned up %d server(s)\n", r);
	return 0;
}

/* ---- shares ---------------------------------------------------------------- */

int sctl_shares(struct cli_call *c)
{
	soda_server *srv = NULL;
	soda_server_config *cfg = NULL;
	soda_shares *sh = NULL;
	soda_error *e = NULL;
	char *text = NULL;
	int rc;

	rc = sctl_server(c, c->argv[0], &srv);
	if (rc)
		return rc;
	if (c->argc == 2) {
		if (soda_shares_parse(&sh, c->argv[1], &e) < 0 ||
		    soda_server_set_shares(srv, sh, 0, &e) < 0)
			rc = sctl_fail(e, c->argv[0]);
		soda_shares_free(sh);
		sh = NULL;
	}
	if (rc == 0 && (soda_server_get_config(&cfg, srv, &e) < 0 ||
			soda_server_config_get_shares(&sh, cfg, &e) < 0 ||
			soda_shares_format(&text, sh, &e) < 0))
		rc = sctl_fail(e, c->argv[0]);
	if (rc == 0 && c->json) {
		struct json j;

		sctl_json(&j);
		json_object_begin(&j, NULL);
		json_str(&j, "name", c->argv[0]);
		json_str(&j, "shares", text);
		json_object_end(&j);
		json_finish(&j);
	} else if (rc == 0) {
		printf("%s: %s\n", c->argv[0], text);
	}
	free(text);
	soda_shares_free(sh);
	soda_server_config_free(cfg);
	soda_server_unref(srv);
	return rc;
}
