/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soda-blackbox: the tenant's and the landlord's tool for blackbox stores.
 *
 *   soda-blackbox keygen [--factory] [--force] FILE
 *   soda-blackbox read   --key FILE [--type T,...] [--since T] [--until T]
 *                        [--stream ID] [--json] [--strict] STORE
 *   soda-blackbox follow --key FILE [--type T,...] [--json] STORE
 *   soda-blackbox verify [--anchor A]... [--json] STORE
 *   soda-blackbox export --key FILE [--format jsonl|asciicast] [--session N]
 *                        [--input] [--title T] [--output FILE] STORE
 *   soda-blackbox replay --key FILE [--session N] [--speed X]
 *                        [--max-wait SEC] STORE
 *
 * Exit codes, the tools' common ones (examples/common/cli.h): 0 the store
 * is intact (or the command did its work); 1 the command could not run (bad
 * key...); 2 bad usage; 3 no such store or file; 4 the store is incomplete
 * (losses the host declared, a stream without its end); 5 it is damaged
 * (tampering, corrupt data, foreign streams: the findings name the
 * positions). The command line is parsed by examples/common/cli.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <soda/blackbox.h>
#include <soda/soda.h>

#include "../common/cli.h"

#define EXIT_INTACT CLI_EXIT_OK
#define EXIT_INCOMPLETE CLI_EXIT_INCOMPLETE
#define EXIT_DAMAGED CLI_EXIT_DAMAGED
#define EXIT_FAILED CLI_EXIT_FAIL
#define EXIT_USAGE CLI_EXIT_USAGE

static volatile sig_atomic_t interrupted;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("soda-blackbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see soda-blackbox COMMAND --help)\n", stderr);
	return EXIT_USAGE;
}

static int fail(soda_error *e, const char *what)
{
	int code = soda_error_code(e);

	fprintf(stderr, "soda-blackbox: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	soda_error_free(e);
	return code == -ENOENT ? CLI_EXIT_NOTFOUND : EXIT_FAILED;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- options shared by the readers ---- */

struct read_args {
	const char *key;
	const char *store;
	uint64_t types;
	uint64_t since, until;
	const char *stream;
	bool json, strict;
	/* export and replay */
	uint32_t format;
	uint32_t session;
	bool has_session, with_input;
	const char *title;
	const char *output;
	double speed, max_wait;
	const char *anchors; /* follow: where the anchors go */
};

static int parse_time(const char *s, uint64_t *ret)
{
	struct tm tm = { 0 };
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end != s && *end == '\0') {
		*ret = (uint64_t)v * 1000000u;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || *end)
		return -EINVAL;
	*ret = (uint64_t)timegm(&tm) * 1000000u;
	return 0;
}

static int parse_types(const char *s, uint64_t *ret)
{
	char *copy = strdup(s), *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint32_t type = soda_blackbox_type_from_name(t);

		if (!type) {
			usage_error("unknown record type '%s'", t);
			r = -EINVAL;
			break;
		}
		*ret |= 1ull << type;
	}
	free(copy);
	return r;
}

/* The options of read, follow, export and replay, from the parsed line
 * (the table says which command takes which). Returns 0 or an exit code. */
static int parse_read_args(struct cli_call *c, struct read_args *a)
{
	const char *v;
	char *end;

	a->speed = 1.0;
	a->max_wait = 2.0;
	a->key = cli_get(c, "key");
	a->stream = cli_get(c, "stream");
	a->title = cli_get(c, "title");
	a->output = cli_get(c, "output");
	a->anchors = cli_get(c, "anchors");
	a->json = c->json;
	a->strict = cli_has(c, "strict");
	a->with_input = cli_has(c, "input");
	if ((v = cli_get(c, "type")) && parse_types(v, &a->types) < 0)
		return EXIT_USAGE;
	if ((v = cli_get(c, "since")) && parse_time(v, &a->since) < 0)
		return cli_usage_error(c, "bad time '%s'", v);
	if ((v = cli_get(c, "until")) && parse_time(v, &a->until) < 0)
		return cli_usage_error(c, "bad time '%s'", v);
	if ((v = cli_get(c, "format"))) {
		if (strcmp(v, "jsonl") == 0)
			a->format = SODA_BLACKBOX_EXPORT_JSONL;
		else if (strcmp(v, "asciicast") == 0)
			a->format = SODA_BLACKBOX_EXPORT_ASCIICAST;
		else
			return cli_usage_error(c, "unknown format '%s' (jsonl or asciicast)", v);
	}
	if ((v = cli_get(c, "session"))) {
		unsigned long long n;

		if (!cli_parse_u64(v, UINT32_MAX, &n))
			return cli_usage_error(c, "bad session '%s'", v);
		a->session = (uint32_t)n;
		a->has_session = true;
	}
	for (int i = 0; i < 2; i++) {
		double d;

		if (!(v = cli_get(c, i ? "max-wait" : "speed")))
			continue;
		d = strtod(v, &end);
		if (end == v || *end || !(d > 0) || d > 1e6)
			return cli_usage_error(c, "bad number '%s'", v);
		if (i)
			a->max_wait = d;
		else
			a->speed = d;
	}
	a->store = c->argv[0];
	return 0;
}

/* With more than one CPU the chain is hashed on a second thread. */
static bool use_threads(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

static int open_reader(const struct read_args *a, unsigned int flags, soda_blackbox_reader **ret)
{
	soda_blackbox_reader_options ro = SODA_BLACKBOX_READER_OPTIONS_INIT;
	soda_blackbox_key *key = NULL;
	soda_error *e = NULL;
	int r;

	r = soda_blackbox_key_load(&key, a->key, 0, &e);
	if (r < 0)
		return fail(e, a->key);
	if (!soda_blackbox_key_has_secret(key)) {
		soda_blackbox_key_free(key);
		fprintf(stderr, "soda-blackbox: %s is a public key; reading needs the secret key\n",
			a->key);
		return EXIT_FAILED;
	}
	ro.types = a->types;
	ro.since_usec = a->since;
	ro.until_usec = a->until;
	ro.stream = a->stream;
	r = soda_blackbox_reader_open(ret, a->store, key, &ro, flags | (use_threads() ? SODA_BLACKBOX_READ_PARALLEL : 0), &e);
	soda_blackbox_key_free(key);
	return r < 0 ? fail(e, a->store) : 0;
}

/* ---- findings ---- */

static void print_findings(const soda_blackbox_report *rep, bool json, FILE *out)
{
	for (size_t i = 0; i < soda_blackbox_report_get_finding_count(rep); i++) {
		const soda_blackbox_finding *f = soda_blackbox_report_get_finding(rep, i);

		if (json) {
			char *text = NULL;

			if (soda_blackbox_finding_to_json(&text, f, 0, NULL) == 0)
				fprintf(out, "{\"finding\":%s}\n", text);
			soda_free(text);
		} else {
			static const char *const sev[] = { "info", "warning", "loss", "error" };
			uint32_t s = soda_blackbox_finding_get_severity(f);

			fprintf(out, "%s: %s: %s\n", s < 4 ? sev[s] : "?",
				soda_blackbox_finding_kind_name(soda_blackbox_finding_get_kind(f)),
				soda_blackbox_finding_get_message(f));
		}
	}
}

static int status_exit(const soda_blackbox_report *rep)
{
	switch (soda_blackbox_report_get_status(rep)) {
	case SODA_BLACKBOX_INTACT:
		return EXIT_INTACT;
	case SODA_BLACKBOX_INCOMPLETE:
		return EXIT_INCOMPLETE;
	default:
		return EXIT_DAMAGED;
	}
}

static const char *status_name(const soda_blackbox_report *rep)
{
	switch (soda_blackbox_report_get_status(rep)) {
	case SODA_BLACKBOX_INTACT:
		return "intact";
	case SODA_BLACKBOX_INCOMPLETE:
		return "incomplete";
	default:
		return "DAMAGED";
	}
}

/* ---- read, follow ---- */

/* The record's claimed time, and how far the host's receipt was from it
 * ("rx+0.002": received 2 ms later); marks for what must not be trusted. */
static void print_record(const soda_blackbox_record *rec, bool json, FILE *out)
{
	uint64_t rt = soda_blackbox_record_get_realtime(rec);
	uint64_t rx = soda_blackbox_record_get_received(rec);
	uint32_t fl = soda_blackbox_record_get_flags(rec);
	time_t secs = (time_t)(rt / 1000000u);
	struct tm tm;
	char when[32], recv[32] = "-";
	const uint8_t *body;
	size_t len;

	if (json) {
		char *text = NULL;

		if (soda_blackbox_record_to_json(&text, rec, 0, NULL) == 0)
			fprintf(out, "%s\n", text);
		soda_free(text);
		return;
	}
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (rx)
		snprintf(recv, sizeof(recv), "rx%+.3f", ((double)rx - (double)rt) / 1e6);
	body = soda_blackbox_record_get_data(rec, &len);
	/* The columns from the origin on are those of libsoda 0.1. */
	fprintf(out, "%s.%06uZ %-10s %s%s%s%-5s %-12s %-6" PRIu32 " ", when, (unsigned)(rt % 1000000u),
		recv, fl & SODA_BLACKBOX_RECORD_F_FOREIGN ? "!FOREIGN " : "",
		fl & SODA_BLACKBOX_RECORD_F_TIME_FAR ? "!TIME-FAR " : "",
		fl & SODA_BLACKBOX_RECORD_F_TIME_BACK ? "!TIME-BACK " : "",
		soda_blackbox_record_get_origin(rec),
		soda_blackbox_type_name(soda_blackbox_record_get_type(rec)),
		soda_blackbox_record_get_aux(rec));
	/* Control bytes shown escaped: a record cannot drive the terminal. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = body[i];

		if (c == '\\')
			fputs("\\\\", out);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('\n', out);
}

/* follow --anchors: the store's committed head, appended when it moved. */
static void collect_anchor(const char *store, const char *file, char *last, size_t last_size)
{
	char *anchor = NULL;
	FILE *f;

	if (soda_blackbox_store_read_anchor(&anchor, store, 0, NULL) < 0)
		return;
	if (strcmp(anchor, last) != 0 && (f = fopen(file, "ae"))) {
		fprintf(f, "%" PRIu64 " %s\n", (uint64_t)time(NULL), anchor);
		if (fflush(f) == 0 && fsync(fileno(f)) == 0)
			snprintf(last, last_size, "%s", anchor);
		fclose(f);
	}
	soda_free(anchor);
}

static int cmd_read(struct cli_call *c)
{
	bool follow = strcmp(c->cmd->path, "follow") == 0;
	struct read_args a = { 0 };
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *e = NULL;
	int r;

	char last_anchor[160] = "";
	uint64_t next_anchor = 0;
	char *held = NULL;
	size_t held_len = 0;
	FILE *hold = NULL;
	uint64_t n_held = 0;

	r = parse_read_args(c, &a);
	if (r)
		return r;
	/* Records of foreign streams (not the server's) are shown apart,
	 * after the server's: read holds them back; follow marks them. */
	if (!follow && !a.json)
		hold = open_memstream(&held, &held_len);
	r = open_reader(&a, (follow ? SODA_BLACKBOX_READ_FOLLOW : 0) |
				    (a.strict ? SODA_BLACKBOX_READ_STRICT : 0),
			&rd);
	if (r) {
		if (hold) {
			fclose(hold);
			free(held);
		}
		return r;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!interrupted) {
		r = soda_blackbox_reader_next(rd, &rec, 0, &e);
		if (r == 1) {
			if (hold && (soda_blackbox_record_get_flags(rec) & SODA_BLACKBOX_RECORD_F_FOREIGN)) {
				print_record(rec, false, hold);
				n_held++;
			} else {
				print_record(rec, a.json, stdout);
			}
			continue;
		}
		if (a.anchors && (r == -EAGAIN || r == 0) && (uint64_t)time(NULL) >= next_anchor) {
			collect_anchor(a.store, a.anchors, last_anchor, sizeof(last_anchor));
			next_anchor = (uint64_t)time(NULL) + 1;
		}
		if (r == -EAGAIN) {
			fflush(stdout);
			usleep(100 * 1000);
			continue;
		}
		break;
	}
	if (hold) {
		fclose(hold);
		if (n_held)
			printf("-- %" PRIu64 " records of streams that are NOT the server's: they came on the "
			       "guest's line after the server's stream (someone else in the guest wrote them) --\n%s",
			       n_held, held);
		free(held);
	}
	fflush(stdout);
	if (r < 0 && r != -EAGAIN) {
		print_findings(soda_blackbox_reader_get_report(rd), a.json, stderr);
		soda_blackbox_reader_close(rd);
		return r == -EBADMSG ? (fail(e, "reading stopped"), EXIT_DAMAGED) : fail(e, a.store);
	}
	print_findings(soda_blackbox_reader_get_report(rd), a.json, a.json ? stdout : stderr);
	if (!a.json)
		fprintf(stderr, "store %s: %s, %" PRIu64 " records\n", a.store,
			status_name(soda_blackbox_reader_get_report(rd)),
			soda_blackbox_report_get_counter(soda_blackbox_reader_get_report(rd),
							 SODA_BLACKBOX_REPORT_RECORDS));
	r = status_exit(soda_blackbox_reader_get_report(rd));
	soda_blackbox_reader_close(rd);
	return r;
}

/* ---- verify ---- */

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* An anchors file (follow --anchors): one anchor per line, the line's last
 * word; blank lines and # comments skipped. */
static int read_anchor_file(const char *path, char ***v, size_t *n)
{
	FILE *f = fopen(path, "re");
	char line[512];
	unsigned lineno = 0;

	if (!f) {
		fprintf(stderr, "soda-blackbox: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *end = line + strcspn(line, "\r\n"), *w, **nv;

		lineno++;
		*end = 0;
		while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = 0;
		w = strrchr(line, ' ');
		w = w ? w + 1 : line + strspn(line, " \t");
		if (!*w || line[strspn(line, " \t")] == '#')
			continue;
		if (!strchr(w, ':')) {
			fprintf(stderr, "soda-blackbox: %s:%u: not an anchor: '%s'\n", path, lineno, w);
			fclose(f);
			return -1;
		}
		nv = realloc(*v, (*n + 1) * sizeof(*nv));
		if (!nv || !(nv[*n] = strdup(w))) {
			if (nv)
				*v = nv;
			fclose(f);
			return -1;
		}
		*v = nv;
		(*n)++;
	}
	fclose(f);
	return 0;
}

static int cmd_verify(struct cli_call *c)
{
	char **from_file = NULL;
	size_t n_file = 0;
	soda_blackbox_verify_options vo = SODA_BLACKBOX_VERIFY_OPTIONS_INIT;
	soda_blackbox_report *rep = NULL;
	const char **anchors = NULL;
	soda_error *e = NULL;
	size_t n = 0;
	bool json = c->json;
	const char *store = c->argv[0], *anchors_file = cli_get(c, "anchors");
	int r;

	anchors = cli_get_all(c, "anchor", &n);
	if (!anchors)
		return fail(NULL, "out of memory");
	if (anchors_file && read_anchor_file(anchors_file, &from_file, &n_file) < 0) {
		free(anchors);
		free_strv(from_file, n_file);
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < n_file; i++) {
		const char **na = realloc(anchors, (n + 1) * sizeof(*na));

		if (!na) {
			free(anchors);
			free_strv(from_file, n_file);
			return fail(NULL, "out of memory");
		}
		anchors = na;
		anchors[n++] = from_file[i];
	}
	vo.anchors = anchors;
	vo.n_anchors = n;
	r = soda_blackbox_verify(&rep, store, &vo,
				 use_threads() ? SODA_BLACKBOX_VERIFY_PARALLEL : 0, &e);
	free(anchors);
	free_strv(from_file, n_file);
	if (r < 0)
		return fail(e, store);
	print_findings(rep, json, stdout);
	if (json) {
		const char *anchor = soda_blackbox_report_get_anchor(rep);

		printf("{\"status\":\"%s\",\"frames\":%" PRIu64 ",\"segments\":%" PRIu64
		       ",\"streams\":%" PRIu64 ",\"anchor\":%s%s%s}\n",
		       status_name(rep), soda_blackbox_report_get_counter(rep, SODA_BLACKBOX_REPORT_FRAMES),
		       soda_blackbox_report_get_counter(rep, SODA_BLACKBOX_REPORT_SEGMENTS),
		       soda_blackbox_report_get_counter(rep, SODA_BLACKBOX_REPORT_STREAMS),
		       anchor ? "\"" : "", anchor ? anchor : "null", anchor ? "\"" : "");
	} else {
		printf("store %s: %s: %" PRIu64 " frames in %" PRIu64 " segments, %" PRIu64
		       " streams\n",
		       store, status_name(rep),
		       soda_blackbox_report_get_counter(rep, SODA_BLACKBOX_REPORT_FRAMES),
		       soda_blackbox_report_get_counter(rep, SODA_BLACKBOX_REPORT_SEGMENTS),
		       soda_blackbox_report_get_counter(rep, SODA_BLACKBOX_REPORT_STREAMS));
		if (soda_blackbox_report_get_anchor(rep))
			printf("anchor %s\n", soda_blackbox_report_get_anchor(rep));
	}
	r = status_exit(rep);
	soda_blackbox_report_free(rep);
	return r;
}

/* ---- export, replay ---- */

static int cmd_export(struct cli_call *c)
{
	soda_blackbox_export_options eo = SODA_BLACKBOX_EXPORT_OPTIONS_INIT;
	struct read_args a = { 0 };
	soda_blackbox_reader *rd = NULL;
	soda_error *e = NULL;
	FILE *out = stdout;
	int r;

	r = parse_read_args(c, &a);
	if (r)
		return r;
	if (a.output && !(out = fopen(a.output, "we"))) {
		fprintf(stderr, "soda-blackbox: cannot write %s: %s\n", a.output, strerror(errno));
		return EXIT_FAILED;
	}
	r = open_reader(&a, 0, &rd);
	if (r) {
		if (out != stdout)
			fclose(out);
		return r;
	}
	eo.format = a.format ? a.format : SODA_BLACKBOX_EXPORT_JSONL;
	eo.session = a.session;
	eo.has_session = a.has_session;
	eo.with_input = a.with_input;
	eo.title = a.title;
	fflush(out);
	r = soda_blackbox_export(rd, fileno(out), &eo, 0, &e);
	if (out != stdout && fclose(out) != 0 && r == 0)
		r = -EIO;
	if (r < 0) {
		soda_blackbox_reader_close(rd);
		return fail(e, "export");
	}
	if (eo.format == SODA_BLACKBOX_EXPORT_ASCIICAST)
		print_findings(soda_blackbox_reader_get_report(rd), false, stderr);
	r = status_exit(soda_blackbox_reader_get_report(rd));
	soda_blackbox_reader_close(rd);
	return r;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Console output of one session, at the pace it was written (monotonic
 * times of the guest), waits capped at --max-wait, sped up by --speed. */
static int cmd_replay(struct cli_call *c)
{
	struct read_args a = { 0 };
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *e = NULL;
	uint64_t last = 0;
	bool started = false;
	int r;

	r = parse_read_args(c, &a);
	if (r)
		return r;
	a.types = 1ull << SODA_BLACKBOX_CONSOLE_OUT;
	r = open_reader(&a, 0, &rd);
	if (r)
		return r;
	signal(SIGINT, on_signal);
	while (!interrupted && (r = soda_blackbox_reader_next(rd, &rec, 0, &e)) == 1) {
		uint64_t mono = soda_blackbox_record_get_monotonic(rec);
		const uint8_t *body;
		size_t len;

		if (strcmp(soda_blackbox_record_get_origin(rec), "guest") != 0)
			continue;
		if (!started && !a.has_session) {
			a.session = soda_blackbox_record_get_aux(rec);
			a.has_session = true;
		}
		if (soda_blackbox_record_get_aux(rec) != a.session)
			continue;
		if (started && mono > last) {
			double wait = (double)(mono - last) / 1e6 / a.speed;

			sleep_s(wait < a.max_wait ? wait : a.max_wait);
		}
		started = true;
		last = mono;
		body = soda_blackbox_record_get_data(rec, &len);
		if (fwrite(body, 1, len, stdout) != len)
			break;
		fflush(stdout);
	}
	if (r < 0) {
		soda_blackbox_reader_close(rd);
		return fail(e, a.store);
	}
	if (!started)
		fprintf(stderr, "soda-blackbox: no console output in %s\n", a.store);
	r = status_exit(soda_blackbox_reader_get_report(rd));
	soda_blackbox_reader_close(rd);
	return r;
}

/* ---- keygen ---- */

static int cmd_keygen(struct cli_call *c)
{
	soda_blackbox_key *key = NULL;
	soda_error *e = NULL;
	uint32_t type = cli_has(c, "factory") ? SODA_BLACKBOX_KEY_FACTORY : SODA_BLACKBOX_KEY_TENANT;
	unsigned int flags = cli_has(c, "force") ? 0 : SODA_BLACKBOX_KEY_NO_CLOBBER;
	const char *file = c->argv[0];
	char *pub = NULL;
	int r;

	if (asprintf(&pub, "%s.pub", file) < 0)
		return fail(NULL, "out of memory");
	r = soda_blackbox_key_generate(&key, type, 0, &e);
	if (r == 0)
		r = soda_blackbox_key_save_secret(key, file, flags, &e);
	if (r == 0)
		r = soda_blackbox_key_save_public(key, pub, flags, &e);
	if (r < 0) {
		soda_blackbox_key_free(key);
		free(pub);
		return fail(e, "keygen");
	}
	printf("secret key %s (keep it off the host), public key %s, id %s\n", file, pub,
	       soda_blackbox_key_get_id(key));
	soda_blackbox_key_free(key);
	free(pub);
	return 0;
}

static const struct cli_option keygen_options[] = {
	{ "factory", 0, NULL, 0, "a factory signing key instead of a tenant's", 0 },
	{ "force", 0, NULL, 0, "overwrite existing files", 0 },
	{ NULL },
};
static const struct cli_option read_options[] = {
	{ "key", 0, "FILE", 0, "the tenant's secret key file", 'f' },
	{ "type", 0, "T,...", 0, "only these record types", 0 },
	{ "since", 0, "TIME", 0, "records from TIME on", 0 },
	{ "until", 0, "TIME", 0, "records up to TIME", 0 },
	{ "stream", 0, "ID", 0, "only this stream", 0 },
	{ "strict", 0, NULL, 0, "stop at the first damage", 0 },
	{ NULL },
};
static const struct cli_option follow_options[] = {
	{ "key", 0, "FILE", 0, "the tenant's secret key file", 'f' },
	{ "type", 0, "T,...", 0, "only these record types", 0 },
	{ "anchors", 0, "FILE", 0, "append the store's committed head to FILE as it grows (keep it off the host)", 'f' },
	{ NULL },
};
static const struct cli_option verify_options[] = {
	{ "anchor", 0, "SEG:OFF:DIGEST", CLI_OPT_REPEAT, "a published anchor the store must still hold", 0 },
	{ "anchors", 0, "FILE", 0, "every anchor in FILE (follow --anchors writes it)", 'f' },
	{ NULL },
};
static const struct cli_option export_options[] = {
	{ "key", 0, "FILE", 0, "the tenant's secret key file", 'f' },
	{ "format", 0, "jsonl|asciicast", 0, "JSON lines (default), or a console session as asciicast v2", 0 },
	{ "session", 0, "N", 0, "the console session (default: the first)", 0 },
	{ "input", 0, NULL, 0, "asciicast: the keys typed too", 0 },
	{ "title", 0, "TEXT", 0, "asciicast: the title", 0 },
	{ "output", 0, "FILE", 0, "write to FILE, not standard output", 'f' },
	{ NULL },
};
static const struct cli_option replay_options[] = {
	{ "key", 0, "FILE", 0, "the tenant's secret key file", 'f' },
	{ "session", 0, "N", 0, "the console session (default: the first)", 0 },
	{ "speed", 0, "X", 0, "play X times faster", 0 },
	{ "max-wait", 0, "SEC", 0, "wait at most SEC seconds between outputs (default 2)", 0 },
	{ NULL },
};

#define TENANT "The tenant"
#define LANDLORD "The landlord (no key)"

static const struct cli_command commands[] = {
	{ "keygen", "FILE", 1, 1, keygen_options, cmd_keygen, TENANT,
	  "a new key pair: FILE (secret, mode 0600) and FILE.pub (for the host)",
	  "Keep FILE off the host; give FILE.pub to the host: sodactl create --blackbox FILE.pub.",
	  0, "f" },
	{ "read", "STORE", 1, 1, read_options, cmd_read, TENANT,
	  "decrypt and print the records, then what is wrong with the store",
	  "Records of streams that are not the server's (someone else in the guest wrote them) are\n"
	  "shown apart, after the server's. TIME: seconds since the epoch, or YYYY-MM-DDTHH:MM:SS\n"
	  "(UTC). Types: console-out console-in syslog kernel exec audit ids-alert lifecycle\n"
	  "snapshot heartbeat loss end console-size text.", CLI_JSON, "d" },
	{ "follow", "STORE", 1, 1, follow_options, cmd_read, TENANT,
	  "read, then wait for new records (Ctrl-C ends)", NULL, CLI_JSON, "d" },
	{ "export", "STORE", 1, 1, export_options, cmd_export, TENANT,
	  "JSON lines (records, then findings), or a console session as asciicast v2", NULL, 0, "d" },
	{ "replay", "STORE", 1, 1, replay_options, cmd_replay, TENANT,
	  "play a console session on this terminal with its original timing", NULL, 0, "d" },
	{ "verify", "STORE", 1, 1, verify_options, cmd_verify, LANDLORD,
	  "check integrity and completeness; print the findings and the store's anchor",
	  "Publish the anchor off the host: a later verify --anchor proves nothing up to it was\n"
	  "rewritten or cut.", CLI_JSON, "d" },
	{ NULL },
};

int main(int argc, char **argv)
{
	static char version[64];
	struct cli_tool tool = {
		.name = "soda-blackbox",
		.version = version,
		.synopsis = "COMMAND [OPTIONS] ARGS",
		.commands = commands,
		.footer = "See soda-blackbox(1) and docs/blackbox-format.md.\n",
	};

	snprintf(version, sizeof(version), "(libsoda %s)", soda_version());
	return cli_main(&tool, argc, argv, NULL);
}
