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
 * Exit codes: 0 the store is intact; 1 it is incomplete (losses the host
 * declared, a stream without its end); 2 it is damaged (tampering, corrupt
 * data: the findings name the positions); 3 the command could not run (bad
 * key, missing store...); 64 bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
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

#define EXIT_INTACT 0
#define EXIT_INCOMPLETE 1
#define EXIT_DAMAGED 2
#define EXIT_FAILED 3
#define EXIT_USAGE 64

static volatile sig_atomic_t interrupted;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: soda-blackbox COMMAND [OPTIONS] ...\n"
		"\n"
		"The tenant:\n"
		"  keygen [--factory] [--force] FILE\n"
		"        a new key pair: FILE (secret, mode 0600: keep it off the host)\n"
		"        and FILE.pub (give this one to the host: sodactl create --blackbox)\n"
		"  read --key FILE [--type T,...] [--since TIME] [--until TIME]\n"
		"       [--stream ID] [--json] [--strict] STORE\n"
		"        decrypts and prints the records, then what is wrong with the store\n"
		"  follow --key FILE [--type T,...] [--json] [--anchors FILE] STORE\n"
		"        the same, and waits for new records (Ctrl-C ends); --anchors\n"
		"        appends the store's committed head to FILE as it grows (keep\n"
		"        FILE off the host: verify --anchors proves nothing was cut)\n"
		"  export --key FILE [--format jsonl|asciicast] [--session N] [--input]\n"
		"         [--title TEXT] [--output FILE] STORE\n"
		"        JSON lines (records, then findings), or a console session as\n"
		"        asciicast v2 (asciinema play FILE)\n"
		"  replay --key FILE [--session N] [--speed X] [--max-wait SEC] STORE\n"
		"        plays a console session on this terminal with its original timing\n"
		"The landlord (no key):\n"
		"  verify [--anchor SEG:OFF:DIGEST]... [--anchors FILE] [--json] STORE\n"
		"        checks integrity and completeness; prints the findings and the\n"
		"        store's anchor (publish it; a later verify --anchor proves that\n"
		"        nothing up to it was rewritten); --anchors: every anchor in\n"
		"        FILE (one per line, the last word of the line; # comments)\n"
		"\n"
		"TIME: seconds since the epoch, or YYYY-MM-DDTHH:MM:SS (UTC).\n"
		"Types: console-out console-in syslog kernel exec audit ids-alert lifecycle\n"
		"  snapshot heartbeat loss end console-size text.\n"
		"Exit: 0 intact, 1 incomplete, 2 damaged, 3 could not run, 64 bad usage.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("soda-blackbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see soda-blackbox --help)\n", stderr);
	return EXIT_USAGE;
}

static int fail(soda_error *e, const char *what)
{
	fprintf(stderr, "soda-blackbox: %s: %s\n", what, e ? soda_error_message(e) : "failed");
	soda_error_free(e);
	return EXIT_FAILED;
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

/* Parses the options of read, follow, export and replay. Returns 0 or an
 * exit code. */
static int parse_read_args(int argc, char **argv, struct read_args *a, const char *allowed)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },    { "type", required_argument, NULL, 't' },
		{ "since", required_argument, NULL, 's' },  { "until", required_argument, NULL, 'u' },
		{ "stream", required_argument, NULL, 'S' }, { "json", no_argument, NULL, 'j' },
		{ "strict", no_argument, NULL, 'x' },       { "format", required_argument, NULL, 'f' },
		{ "session", required_argument, NULL, 'n' }, { "input", no_argument, NULL, 'i' },
		{ "title", required_argument, NULL, 'T' },  { "output", required_argument, NULL, 'o' },
		{ "speed", required_argument, NULL, 'p' },  { "max-wait", required_argument, NULL, 'w' },
		{ "anchors", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	a->speed = 1.0;
	a->max_wait = 2.0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		if (c == '?' || !strchr(allowed, c))
			return usage_error("bad option to %s", argv[0]);
		switch (c) {
		case 'k':
			a->key = optarg;
			break;
		case 't':
			if (parse_types(optarg, &a->types) < 0)
				return EXIT_USAGE;
			break;
		case 's':
		case 'u':
			if (parse_time(optarg, c == 's' ? &a->since : &a->until) < 0)
				return usage_error("bad time '%s'", optarg);
			break;
		case 'S':
			a->stream = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'x':
			a->strict = true;
			break;
		case 'f':
			if (strcmp(optarg, "jsonl") == 0)
				a->format = SODA_BLACKBOX_EXPORT_JSONL;
			else if (strcmp(optarg, "asciicast") == 0)
				a->format = SODA_BLACKBOX_EXPORT_ASCIICAST;
			else
				return usage_error("unknown format '%s' (jsonl or asciicast)", optarg);
			break;
		case 'n': {
			unsigned long v = strtoul(optarg, &end, 10);

			if (end == optarg || *end || v > UINT32_MAX)
				return usage_error("bad session '%s'", optarg);
			a->session = (uint32_t)v;
			a->has_session = true;
			break;
		}
		case 'i':
			a->with_input = true;
			break;
		case 'T':
			a->title = optarg;
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'A':
			a->anchors = optarg;
			break;
		case 'p':
		case 'w': {
			double v = strtod(optarg, &end);

			if (end == optarg || *end || !(v > 0) || v > 1e6)
				return usage_error("bad number '%s'", optarg);
			if (c == 'p')
				a->speed = v;
			else
				a->max_wait = v;
			break;
		}
		}
	}
	if (strchr(allowed, 'k') && !a->key)
		return usage_error("%s needs --key (the tenant's secret key file)", argv[0]);
	if (optind != argc - 1)
		return usage_error("%s takes one store directory", argv[0]);
	a->store = argv[optind];
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

static int cmd_read(int argc, char **argv, bool follow)
{
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

	r = parse_read_args(argc, argv, &a, follow ? "ktjA" : "ktsuSjx");
	if (r)
		return r;
	/* Records of foreign streams (not the server's) are shown apart,
	 * after the server's: read holds them back; follow marks them. */
	if (!follow && !a.json)
		hold = open_memstream(&held, &held_len);
	r = open_reader(&a, (follow ? SODA_BLACKBOX_READ_FOLLOW : 0) |
				    (a.strict ? SODA_BLACKBOX_READ_STRICT : 0),
			&rd);
	if (r)
		return r;
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

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = { { "anchor", required_argument, NULL, 'a' },
					      { "anchors", required_argument, NULL, 'A' },
					      { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	char **from_file = NULL;
	size_t n_file = 0;
	soda_blackbox_verify_options vo = SODA_BLACKBOX_VERIFY_OPTIONS_INIT;
	soda_blackbox_report *rep = NULL;
	const char **anchors = NULL;
	soda_error *e = NULL;
	size_t n = 0;
	bool json = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a') {
			const char **na = realloc(anchors, (n + 1) * sizeof(*na));

			if (!na) {
				free(anchors);
				return fail(NULL, "out of memory");
			}
			anchors = na;
			anchors[n++] = optarg;
		} else if (c == 'A') {
			if (read_anchor_file(optarg, &from_file, &n_file) < 0) {
				free(anchors);
				free_strv(from_file, n_file);
				return EXIT_FAILED;
			}
		} else if (c == 'j') {
			json = true;
		} else {
			free(anchors);
			return usage_error("bad option to verify");
		}
	}
	if (optind != argc - 1) {
		free(anchors);
		return usage_error("verify takes one store directory");
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
	r = soda_blackbox_verify(&rep, argv[optind], &vo,
				 use_threads() ? SODA_BLACKBOX_VERIFY_PARALLEL : 0, &e);
	free(anchors);
	free_strv(from_file, n_file);
	if (r < 0)
		return fail(e, argv[optind]);
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
		       argv[optind], status_name(rep),
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

static int cmd_export(int argc, char **argv)
{
	soda_blackbox_export_options eo = SODA_BLACKBOX_EXPORT_OPTIONS_INIT;
	struct read_args a = { 0 };
	soda_blackbox_reader *rd = NULL;
	soda_error *e = NULL;
	FILE *out = stdout;
	int r;

	r = parse_read_args(argc, argv, &a, "kfniTo");
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
static int cmd_replay(int argc, char **argv)
{
	struct read_args a = { 0 };
	soda_blackbox_reader *rd = NULL;
	const soda_blackbox_record *rec;
	soda_error *e = NULL;
	uint64_t last = 0;
	bool started = false;
	int r;

	r = parse_read_args(argc, argv, &a, "knpw");
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

static int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = { { "factory", no_argument, NULL, 'f' },
					      { "force", no_argument, NULL, 'F' },
					      { NULL, 0, NULL, 0 } };
	soda_blackbox_key *key = NULL;
	soda_error *e = NULL;
	uint32_t type = SODA_BLACKBOX_KEY_TENANT;
	unsigned int flags = SODA_BLACKBOX_KEY_NO_CLOBBER;
	char *pub = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			type = SODA_BLACKBOX_KEY_FACTORY;
		else if (c == 'F')
			flags &= ~SODA_BLACKBOX_KEY_NO_CLOBBER;
		else
			return usage_error("bad option to keygen");
	}
	if (optind != argc - 1)
		return usage_error("keygen takes one file name");
	if (asprintf(&pub, "%s.pub", argv[optind]) < 0)
		return fail(NULL, "out of memory");
	r = soda_blackbox_key_generate(&key, type, 0, &e);
	if (r == 0)
		r = soda_blackbox_key_save_secret(key, argv[optind], flags, &e);
	if (r == 0)
		r = soda_blackbox_key_save_public(key, pub, flags, &e);
	if (r < 0) {
		soda_blackbox_key_free(key);
		free(pub);
		return fail(e, "keygen");
	}
	printf("secret key %s (keep it off the host), public key %s, id %s\n", argv[optind], pub,
	       soda_blackbox_key_get_id(key));
	soda_blackbox_key_free(key);
	free(pub);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (strcmp(cmd, "read") == 0)
		return cmd_read(argc, argv, false);
	if (strcmp(cmd, "follow") == 0)
		return cmd_read(argc, argv, true);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc, argv);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc, argv);
	if (strcmp(cmd, "replay") == 0)
		return cmd_replay(argc, argv);
	return usage_error("unknown command '%s'", cmd);
}
