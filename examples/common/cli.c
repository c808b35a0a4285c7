/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared command-line parser (see cli.h). It never exits: cli_main()
 * returns the exit code, so a tool's main() is one line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_option json_option = {
	"json", 0, NULL, 0, "print JSON (one document) instead of text", 0
};
static const struct cli_option help_option = { "help", 'h', NULL, 0, "show this help", 0 };
static const struct cli_option version_option = { "version", 0, NULL, 0, "show the version", 0 };

/* Words in a command's path ("network create" has two). */
static size_t path_words(const char *path)
{
	size_t n = 1;

	for (const char *p = path; *p; p++)
		n += *p == ' ';
	return n;
}

/* Whether the path's word number i (from 0) equals word. */
static bool path_word_is(const char *path, size_t i, const char *word)
{
	const char *p = path;
	size_t len;

	while (i-- > 0) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	len = strcspn(p, " ");
	return strlen(word) == len && strncmp(p, word, len) == 0;
}

static const struct cli_option *find_option(const struct cli_option *opts, const char *name,
					    size_t len, char short_name)
{
	if (!opts)
		return NULL;
	for (; opts->name; opts++) {
		if (short_name ? opts->short_name == short_name
			       : strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
			return opts;
	}
	return NULL;
}

/* Looks an option up among the command's, the --json one, and the globals. */
static const struct cli_option *lookup_option(const struct cli_tool *t, const struct cli_command *c,
					      const char *name, size_t len, char short_name)
{
	const struct cli_option *o = NULL;

	if (c) {
		o = find_option(c->options, name, len, short_name);
		if (!o && (c->flags & CLI_JSON) && !short_name && len == 4 &&
		    strncmp(name, "json", 4) == 0)
			o = &json_option;
	}
	if (!o)
		o = find_option(t->global, name, len, short_name);
	if (!o && (short_name == 'h' || (!short_name && len == 4 && strncmp(name, "help", 4) == 0)))
		o = &help_option;
	if (!o && !short_name && len == 7 && strncmp(name, "version", 7) == 0)
		o = &version_option;
	return o;
}

static void print_option(FILE *out, const struct cli_option *o)
{
	char left[64];

	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
	if (strlen(left) > 28)
		fprintf(out, "  %s\n  %-28s %s%s\n", left, "", o->help ? o->help : "",
			(o->flags & CLI_OPT_REPEAT) ? " (repeatable)" : "");
	else
		fprintf(out, "  %-28s %s%s\n", left, o->help ? o->help : "",
			(o->flags & CLI_OPT_REPEAT) ? " (repeatable)" : "");
}

static void tool_help(const struct cli_tool *t, FILE *out)
{
	const char *groups[32];
	size_t n_groups = 0;

	fprintf(out, "usage: %s %s\n", t->name, t->synopsis);
	for (const struct cli_command *c = t->commands; c->path; c++) {
		bool seen = false;

		for (size_t i = 0; i < n_groups; i++)
			seen |= strcmp(groups[i], c->group ? c->group : "") == 0;
		if (!seen && n_groups < 32)
			groups[n_groups++] = c->group ? c->group : "";
	}
	for (size_t g = 0; g < n_groups; g++) {
		fprintf(out, "\n%s%s\n", groups[g], *groups[g] ? ":" : "Commands:");
		for (const struct cli_command *c = t->commands; c->path; c++) {
			char left[96];

			if ((c->flags & CLI_HIDDEN) || strcmp(c->group ? c->group : "", groups[g]))
				continue;
			snprintf(left, sizeof(left), "%s%s%s", c->path, c->args && *c->args ? " " : "",
				 c->args ? c->args : "");
			if (strlen(left) > 30)
				fprintf(out, "  %s\n  %-30s %s\n", left, "", c->summary);
			else
				fprintf(out, "  %-30s %s\n", left, c->summary);
		}
	}
	for (const struct cli_command *c = t->commands; c->path; c++)
		if ((c->flags & CLI_DEFAULT) && c->options) {
			fprintf(out, "\nOptions of %s (the default command):\n", c->path);
			for (const struct cli_option *o = c->options; o->name; o++)
				print_option(out, o);
		}
	if (t->global && t->global->name) {
		fprintf(out, "\nGlobal options (anywhere on the line):\n");
		for (const struct cli_option *o = t->global; o->name; o++)
			print_option(out, o);
	} else {
		fprintf(out, "\nGeneral options:\n");
	}
	fprintf(out, "  %-28s %s\n  %-28s %s\n", "-h, --help", "this help; COMMAND --help for a command's",
		"    --version", "the tool's and the library's version");
	if (t->footer)
		fprintf(out, "\n%s", t->footer);
	fprintf(out, "\nExit status: 0 success, 1 failure, 2 bad usage, 3 not found%s.\n",
		strcmp(t->name, "soda-blackbox") == 0 ? ", 4 incomplete, 5 damaged" : "");
}

static void command_help(const struct cli_tool *t, const struct cli_command *c, FILE *out)
{
	bool any = false;

	fprintf(out, "usage: %s %s%s%s [OPTIONS]\n\n%s\n", t->name, c->path, c->args && *c->args ? " " : "",
		c->args ? c->args : "", c->summary);
	if (c->help)
		fprintf(out, "\n%s\n", c->help);
	if (c->options)
		for (const struct cli_option *o = c->options; o->name; o++) {
			if (!any)
				fprintf(out, "\nOptions:\n");
			any = true;
			print_option(out, o);
		}
	if (c->flags & CLI_JSON) {
		if (!any)
			fprintf(out, "\nOptions:\n");
		print_option(out, &json_option);
	}
	if (t->global && t->global->name) {
		fprintf(out, "\nGlobal options:\n");
		for (const struct cli_option *o = t->global; o->name; o++)
			print_option(out, o);
	}
}

/*
 * Finds the command named by the leading words of argv (skipping global
 * options and their values). *consumed receives the argv indexes the
 * command's words used, so the caller can leave them out.
 */
static const struct cli_command *find_command(const struct cli_tool *t, int argc, char **argv,
					      int *word_idx, size_t *n_words)
{
	const struct cli_command *best = NULL;
	size_t best_words = 0;
	int idx[4];
	size_t n = 0;

	for (int i = 1; i < argc && n < 4; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (a[0] == '-' && a[1]) {
			const struct cli_option *o;
			const char *name = a[1] == '-' ? a + 2 : a + 1;
			size_t len = a[1] == '-' ? strcspn(name, "=") : 1;

			o = a[1] == '-' ? lookup_option(t, NULL, name, len, 0)
					: lookup_option(t, NULL, NULL, 0, a[1]);
			if (o && o->arg && !(a[1] == '-' && name[len] == '=') && !(a[1] != '-' && a[2]))
				i++; /* its value */
			continue;
		}
		/* The command's words come first: stop at the first word that
		 * continues no command path. */
		bool continues = false;

		for (const struct cli_command *c = t->commands; c->path; c++) {
			bool prefix = path_words(c->path) > n;

			for (size_t w = 0; prefix && w < n; w++)
				prefix = path_word_is(c->path, w, argv[idx[w]]);
			if (prefix && path_word_is(c->path, n, a))
				continues = true;
		}
		if (!continues)
			break;
		idx[n++] = i;
		for (const struct cli_command *c = t->commands; c->path; c++) {
			bool match = path_words(c->path) == n;

			for (size_t w = 0; match && w < n; w++)
				match = path_word_is(c->path, w, argv[idx[w]]);
			if (match && n > best_words) {
				best = c;
				best_words = n;
			}
		}
	}
	memcpy(word_idx, idx, sizeof(idx[0]) * best_words);
	*n_words = best_words;
	return best;
}

/* The command group whose first word is word ("network"), for a helpful
 * message when the second word is missing or wrong. */
static bool is_group_word(const struct cli_tool *t, const char *word)
{
	for (const struct cli_command *c = t->commands; c->path; c++)
		if (path_words(c->path) > 1 && path_word_is(c->path, 0, word))
			return true;
	return false;
}

static void print_subcommands(const struct cli_tool *t, const char *word, FILE *out)
{
	for (const struct cli_command *c = t->commands; c->path; c++)
		if (path_words(c->path) > 1 && path_word_is(c->path, 0, word) && !(c->flags & CLI_HIDDEN))
			fprintf(out, "  %s %s\n", c->path, c->args ? c->args : "");
}

static int usage_msg(const struct cli_tool *t, const struct cli_command *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int usage_msg(const struct cli_tool *t, const struct cli_command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", t->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (c)
		fprintf(stderr, "\nTry '%s %s --help'.\n", t->name, c->path);
	else
		fprintf(stderr, "\nTry '%s --help'.\n", t->name);
	return CLI_EXIT_USAGE;
}

int cli_usage_error(const struct cli_call *call, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", call->tool->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help'.\n", call->tool->name, call->cmd->path);
	return CLI_EXIT_USAGE;
}

/* ---- completion -------------------------------------------------------- */

static void complete_kind(const struct cli_tool *t, char kind, void *userdata)
{
	if (kind == 'f')
		printf(":files\n");
	else if (kind == 'd')
		printf(":dirs\n");
	else if (kind && t->complete_names)
		t->complete_names(kind, userdata);
}

static void complete_options(const struct cli_option *opts, const char *cur)
{
	if (!opts)
		return;
	for (; opts->name; opts++)
		if (strncmp(opts->name, cur + 2 * (cur[0] == '-' && cur[1] == '-'),
			    strlen(cur) >= 2 ? strlen(cur) - 2 : 0) == 0 || strlen(cur) < 2)
			printf("--%s\n", opts->name);
}

/* argv: the words typed so far after the tool's name; the last is the one
 * being completed (possibly ""). */
static int complete(const struct cli_tool *t, int argc, char **argv, void *userdata)
{
	const char *cur = argc > 0 ? argv[argc - 1] : "";
	int word_idx[4];
	size_t n_words;
	const struct cli_command *c;
	char *fake[64];
	int n_fake = 0, positional = 0;

	/* find_command() wants argv[0] to be the tool; leave out the word
	 * being completed. */
	fake[n_fake++] = (char *)t->name;
	for (int i = 0; i < argc - 1 && n_fake < 63; i++)
		fake[n_fake++] = argv[i];
	c = find_command(t, n_fake, fake, word_idx, &n_words);

	if (argc >= 2) {
		const char *prev = argv[argc - 2];

		if (prev[0] == '-' && prev[1] == '-') {
			const struct cli_option *o = lookup_option(t, c, prev + 2, strlen(prev + 2), 0);

			if (o && o->arg) {
				complete_kind(t, o->complete, userdata);
				return 0;
			}
		}
	}
	if (cur[0] == '-') {
		if (c) {
			complete_options(c->options, cur);
			if (c->flags & CLI_JSON)
				printf("--json\n");
		}
		complete_options(t->global, cur);
		printf("--help\n");
		return 0;
	}
	if (!c) {
		/* A command's words: the next word of every path that the
		 * typed words begin. */
		size_t typed = 0;
		const char *typed_words[4];

		for (int i = 1; i < n_fake && typed < 4; i++)
			if (fake[i][0] != '-')
				typed_words[typed++] = fake[i];
		for (const struct cli_command *k = t->commands; k->path; k++) {
			bool prefix = !(k->flags & CLI_HIDDEN) && path_words(k->path) > typed;
			const char *p = k->path;

			for (size_t w = 0; prefix && w < typed; w++)
				prefix = path_word_is(k->path, w, typed_words[w]);
			if (!prefix)
				continue;
			for (size_t w = 0; w < typed; w++)
				p = strchr(p, ' ') + 1;
			printf("%.*s\n", (int)strcspn(p, " "), p);
		}
		if (typed == 0)
			printf("help\n");
		return 0;
	}
	/* Which argument of the command is being completed. */
	for (int i = 1; i < n_fake; i++) {
		bool is_word = false;

		for (size_t w = 0; w < n_words; w++)
			is_word |= word_idx[w] == i;
		if (is_word)
			continue;
		if (fake[i][0] == '-' && fake[i][1]) {
			const struct cli_option *o = lookup_option(t, c, fake[i] + 2 - (fake[i][1] != '-'),
								  strcspn(fake[i] + 2, "="), fake[i][1] != '-' ? fake[i][1] : 0);

			if (o && o->arg && !strchr(fake[i], '='))
				i++;
			continue;
		}
		positional++;
	}
	if (c->complete && positional < (int)strlen(c->complete))
		complete_kind(t, c->complete[positional], userdata);
	return 0;
}

/* ---- the entry point --------------------------------------------------- */

int cli_main(const struct cli_tool *t, int argc, char **argv, void *userdata)
{
	struct cli_call call = { .tool = t, .userdata = userdata };
	int word_idx[4];
	size_t n_words;
	bool want_help = false, want_version = false, rest = false, implicit = false;
	int r;

	if (argc >= 2 && strcmp(argv[1], "__complete") == 0)
		return complete(t, argc - 2, argv + 2, userdata);
	if (argc >= 2 && strcmp(argv[1], "__commands") == 0) {
		/* For tests and docs: every command, one per line. */
		for (const struct cli_command *c = t->commands; c->path; c++)
			if (!(c->flags & CLI_HIDDEN))
				printf("%s\n", c->path);
		return CLI_EXIT_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "help") == 0) {
		const struct cli_command *c = find_command(t, argc - 1, argv + 1, word_idx, &n_words);

		if (c) {
			command_help(t, c, stdout);
			return CLI_EXIT_OK;
		}
		if (argc > 2 && !is_group_word(t, argv[2]))
			return usage_msg(t, NULL, "no command '%s'", argv[2]);
		if (argc > 2) {
			printf("%s %s commands:\n", t->name, argv[2]);
			print_subcommands(t, argv[2], stdout);
			return CLI_EXIT_OK;
		}
		tool_help(t, stdout);
		return CLI_EXIT_OK;
	}

	call.cmd = find_command(t, argc, argv, word_idx, &n_words);
	if (!call.cmd) {
		/* A tool whose main use has no command word (soda-ids --rules
		 * ... --pcap ...): its default command, unless a word comes that
		 * names none. */
		for (const struct cli_command *c = t->commands; c->path; c++)
			if (c->flags & CLI_DEFAULT) {
				call.cmd = c;
				implicit = true;
			}
	}
	call.values = calloc((size_t)argc + 1, sizeof(*call.values));
	call.argv = calloc((size_t)argc + 1, sizeof(*call.argv));
	if (!call.values || !call.argv) {
		fprintf(stderr, "%s: out of memory\n", t->name);
		r = CLI_EXIT_FAIL;
		goto out;
	}

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool is_word = false;

		for (size_t w = 0; w < n_words; w++)
			is_word |= word_idx[w] == i;
		if (is_word)
			continue;
		if (rest || strcmp(a, "--") == 0 || a[0] != '-' || !a[1]) {
			if (!rest && strcmp(a, "--") == 0) {
				rest = true;
				continue;
			}
			if (!call.cmd || implicit) {
				if (is_group_word(t, a)) {
					fprintf(stderr, "%s: '%s' needs a command:\n", t->name, a);
					print_subcommands(t, a, stderr);
					r = CLI_EXIT_USAGE;
				} else {
					r = usage_msg(t, NULL, "no command '%s'", a);
				}
				goto out;
			}
			call.argv[call.argc++] = (char *)a;
			/* From the last argument on, a REST command takes all. */
			if (call.cmd && (call.cmd->flags & CLI_ARGS_REST) &&
			    call.argc >= call.cmd->min_args)
				rest = true;
			continue;
		}

		const struct cli_option *o;
		const char *value = NULL;

		if (a[1] == '-') {
			const char *name = a + 2;
			size_t len = strcspn(name, "=");

			o = lookup_option(t, call.cmd, name, len, 0);
			if (!o) {
				r = usage_msg(t, call.cmd, "unknown option '--%.*s'%s%s", (int)len, name,
					      call.cmd ? " for " : "", call.cmd ? call.cmd->path : "");
				goto out;
			}
			if (name[len] == '=') {
				if (!o->arg) {
					r = usage_msg(t, call.cmd, "option '--%s' takes no value", o->name);
					goto out;
				}
				value = name + len + 1;
			}
		} else {
			o = lookup_option(t, call.cmd, NULL, 0, a[1]);
			if (!o) {
				r = usage_msg(t, call.cmd, "unknown option '-%c'", a[1]);
				goto out;
			}
			if (a[2]) {
				if (!o->arg) {
					r = usage_msg(t, call.cmd, "'%s': give short flags one by one", a);
					goto out;
				}
				value = a + 2;
			}
		}
		if (o == &help_option) {
			want_help = true;
			continue;
		}
		if (o->arg && !value) {
			if (i + 1 >= argc) {
				r = usage_msg(t, call.cmd, "option '--%s' needs a value (%s)", o->name, o->arg);
				goto out;
			}
			value = argv[++i];
		}
		if (!(o->flags & CLI_OPT_REPEAT) && o != &json_option) {
			for (size_t k = 0; k < call.n_values; k++)
				if (call.values[k].opt == o && o->arg) {
					r = usage_msg(t, call.cmd, "option '--%s' given twice", o->name);
					goto out;
				}
		}
		if (o == &json_option)
			call.json = true;
		if (o == &version_option) {
			want_version = true;
			continue;
		}
		call.values[call.n_values].opt = o;
		call.values[call.n_values].value = value;
		call.n_values++;
	}

	if (want_version) {
		printf("%s %s\n", t->name, t->version);
		r = CLI_EXIT_OK;
		goto out;
	}
	if (!call.cmd) {
		if (want_help || argc == 1) {
			tool_help(t, want_help ? stdout : stderr);
			r = want_help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
		} else {
			r = usage_msg(t, NULL, "no command given");
		}
		goto out;
	}
	if (want_help && implicit) {
		tool_help(t, stdout);
		r = CLI_EXIT_OK;
		goto out;
	}
	if (want_help) {
		command_help(t, call.cmd, stdout);
		r = CLI_EXIT_OK;
		goto out;
	}
	if (call.argc < call.cmd->min_args) {
		r = usage_msg(t, call.cmd, "'%s' needs %s", call.cmd->path,
			      call.cmd->args && *call.cmd->args ? call.cmd->args : "more arguments");
		goto out;
	}
	if (call.cmd->max_args >= 0 && call.argc > call.cmd->max_args) {
		r = usage_msg(t, call.cmd, "'%s' takes %s; '%s' is one too many", call.cmd->path,
			      call.cmd->max_args ? call.cmd->args : "no arguments",
			      call.argv[call.cmd->max_args]);
		goto out;
	}
	r = call.cmd->run(&call);
out:
	free(call.values);
	free(call.argv);
	return r;
}

const char *cli_get(const struct cli_call *call, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < call->n_values; i++)
		if (strcmp(call->values[i].opt->name, name) == 0)
			v = call->values[i].value;
	return v;
}

bool cli_has(const struct cli_call *call, const char *name)
{
	for (size_t i = 0; i < call->n_values; i++)
		if (strcmp(call->values[i].opt->name, name) == 0)
			return true;
	return false;
}

const char **cli_get_all(const struct cli_call *call, const char *name, size_t *n)
{
	const char **all = calloc(call->n_values + 1, sizeof(*all));
	size_t k = 0;

	if (!all)
		return NULL;
	for (size_t i = 0; i < call->n_values; i++)
		if (strcmp(call->values[i].opt->name, name) == 0 && call->values[i].value)
			all[k++] = call->values[i].value;
	if (n)
		*n = k;
	return all;
}

bool cli_parse_u64(const char *s, unsigned long long max, unsigned long long *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*ret = v;
	return true;
}
