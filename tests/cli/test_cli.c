/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The shared command-line parser and JSON writer of the example tools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../examples/common/cli.h"
#include "../../examples/common/json.h"

/* What the last command run saw. */
static struct {
	const char *cmd;
	int argc;
	char *argv[8];
	const char *image, *state_dir;
	size_t n_share;
	const char *shares[4];
	bool json, force, verbose;
} seen;

static int record(struct cli_call *c)
{
	const char **all;

	memset(&seen, 0, sizeof(seen));
	seen.cmd = c->cmd->path;
	seen.argc = c->argc;
	for (int i = 0; i < c->argc && i < 8; i++)
		seen.argv[i] = c->argv[i];
	seen.image = cli_get(c, "image");
	seen.state_dir = cli_get(c, "state-dir");
	all = cli_get_all(c, "share", &seen.n_share);
	for (size_t i = 0; i < seen.n_share && i < 4; i++)
		seen.shares[i] = all[i];
	free(all);
	seen.json = c->json;
	seen.force = cli_has(c, "force");
	seen.verbose = cli_has(c, "verbose");
	return 0;
}

static int fails(struct cli_call *c)
{
	(void)c;
	return CLI_EXIT_NOTFOUND;
}

static const struct cli_option globals[] = {
	{ "state-dir", 0, "DIR", 0, "state directory", 'd' },
	{ "verbose", 'v', NULL, 0, "log", 0 },
	{ NULL },
};
static const struct cli_option create_opts[] = {
	{ "image", 0, "IMG", 0, "image", 'i' },
	{ "share", 0, "SPEC", CLI_OPT_REPEAT, "a share", 0 },
	{ NULL },
};
static const struct cli_option destroy_opts[] = {
	{ "force", 'f', NULL, 0, "even if", 0 },
	{ NULL },
};
static const struct cli_command commands[] = {
	{ "create", "NAME", 1, 1, create_opts, record, "Servers", "define a server", NULL, 0, "s" },
	{ "list", "", 0, 0, NULL, record, "Servers", "list servers", NULL, CLI_JSON, NULL },
	{ "exec", "NAME COMMAND...", 2, -1, NULL, record, "Servers", "run", NULL, CLI_ARGS_REST, "s" },
	{ "network create", "NAME", 1, 1, NULL, record, "Networks", "make a network", NULL, 0, NULL },
	{ "network destroy", "NAME", 1, 1, destroy_opts, record, "Networks", "remove", NULL, 0, "n" },
	{ "network list", "", 0, 0, NULL, record, "Networks", "list", NULL, CLI_JSON, NULL },
	{ "lookup", "NAME", 1, 1, NULL, fails, "Servers", "not found", NULL, 0, NULL },
	{ NULL },
};

static void names(char kind, void *userdata)
{
	(void)userdata;
	if (kind == 's')
		printf("web\nshop\n");
}

static const struct cli_tool tool = {
	"tool", "1.2.3", "[OPTIONS] COMMAND", globals, commands, NULL, names,
};

#define RUN(...) run((char *[]){ "tool", __VA_ARGS__, NULL })

static int run(char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(&seen, 0, sizeof(seen));
	return cli_main(&tool, argc, argv, NULL);
}

static void options_anywhere(void **state)
{
	(void)state;
	assert_int_equal(RUN("--state-dir", "/s", "create", "web", "--image", "img"), 0);
	assert_string_equal(seen.cmd, "create");
	assert_string_equal(seen.state_dir, "/s");
	assert_string_equal(seen.image, "img");
	assert_int_equal(seen.argc, 1);
	assert_string_equal(seen.argv[0], "web");

	assert_int_equal(RUN("create", "--image=img", "web", "--state-dir", "/s", "-v"), 0);
	assert_string_equal(seen.argv[0], "web");
	assert_string_equal(seen.image, "img");
	assert_string_equal(seen.state_dir, "/s");
	assert_true(seen.verbose);

	/* Global options between a command's words. */
	assert_int_equal(RUN("network", "--state-dir", "/x", "destroy", "-f", "n1"), 0);
	assert_string_equal(seen.cmd, "network destroy");
	assert_string_equal(seen.argv[0], "n1");
	assert_true(seen.force);
	assert_string_equal(seen.state_dir, "/x");
}

static void repeat_and_json(void **state)
{
	(void)state;
	assert_int_equal(RUN("create", "w", "--share", "a:b", "--share", "c:d:ro"), 0);
	assert_int_equal(seen.n_share, 2);
	assert_string_equal(seen.shares[0], "a:b");
	assert_string_equal(seen.shares[1], "c:d:ro");
	assert_int_equal(RUN("list", "--json"), 0);
	assert_true(seen.json);
	assert_int_equal(RUN("--json", "network", "list"), 0);
	assert_string_equal(seen.cmd, "network list");
	assert_true(seen.json);
	/* --json only where the command shows something. */
	assert_int_equal(RUN("create", "w", "--json"), CLI_EXIT_USAGE);
	/* A non-repeatable option twice is an error, not a silent override. */
	assert_int_equal(RUN("create", "w", "--image", "a", "--image", "b"), CLI_EXIT_USAGE);
}

static void rest_arguments(void **state)
{
	(void)state;
	assert_int_equal(RUN("exec", "web", "ls", "-l", "--image", "x"), 0);
	assert_int_equal(seen.argc, 5);
	assert_string_equal(seen.argv[0], "web");
	assert_string_equal(seen.argv[2], "-l");
	assert_string_equal(seen.argv[3], "--image");
	assert_null(seen.image);
	assert_int_equal(RUN("exec", "web", "--", "--weird"), 0);
	assert_int_equal(seen.argc, 2);
	assert_string_equal(seen.argv[1], "--weird");
}

static void usage_errors(void **state)
{
	(void)state;
	assert_int_equal(RUN("create"), CLI_EXIT_USAGE);              /* missing NAME */
	assert_int_equal(RUN("create", "a", "b"), CLI_EXIT_USAGE);    /* one too many */
	assert_int_equal(RUN("nope"), CLI_EXIT_USAGE);
	assert_int_equal(RUN("network"), CLI_EXIT_USAGE);              /* needs a subcommand */
	assert_int_equal(RUN("network", "frob"), CLI_EXIT_USAGE);
	assert_int_equal(RUN("create", "w", "--bogus"), CLI_EXIT_USAGE);
	assert_int_equal(RUN("create", "w", "--image"), CLI_EXIT_USAGE); /* value missing */
	assert_int_equal(RUN("create", "w", "-vx"), CLI_EXIT_USAGE);
	assert_int_equal(RUN("list", "--verbose=yes"), CLI_EXIT_USAGE);
	assert_null(seen.cmd); /* nothing ran */
	/* The command's own code comes back. */
	assert_int_equal(RUN("lookup", "x"), CLI_EXIT_NOTFOUND);
}

static char *capture(char **argv, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	FILE *saved = stdout;
	int argc = 0;

	while (argv[argc])
		argc++;
	stdout = mem;
	*rc = cli_main(&tool, argc, argv, NULL);
	fflush(stdout);
	stdout = saved;
	fclose(mem);
	return buf;
}

static void help_version_complete(void **state)
{
	int rc;
	char *out;

	(void)state;
	out = capture((char *[]){ "tool", "--version", NULL }, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "tool 1.2.3\n");
	free(out);
	out = capture((char *[]){ "tool", "--help", NULL }, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "network destroy NAME"));
	assert_non_null(strstr(out, "--state-dir DIR"));
	free(out);
	out = capture((char *[]){ "tool", "network", "destroy", "--help", NULL }, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "usage: tool network destroy NAME"));
	assert_non_null(strstr(out, "--force"));
	assert_null(seen.cmd);
	free(out);
	out = capture((char *[]){ "tool", "help", "create", NULL }, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "--share SPEC"));
	free(out);

	/* Completion: first words, second words, options, names. */
	out = capture((char *[]){ "tool", "__complete", "", NULL }, &rc);
	assert_non_null(strstr(out, "create\n"));
	assert_non_null(strstr(out, "network\n"));
	free(out);
	out = capture((char *[]){ "tool", "__complete", "network", "", NULL }, &rc);
	assert_string_equal(out, "create\ndestroy\nlist\n");
	free(out);
	out = capture((char *[]){ "tool", "__complete", "create", "--im", NULL }, &rc);
	assert_string_equal(out, "--image\n--help\n");
	free(out);
	out = capture((char *[]){ "tool", "__complete", "exec", "", NULL }, &rc);
	assert_string_equal(out, "web\nshop\n");
	free(out);
	out = capture((char *[]){ "tool", "__complete", "--state-dir", "", NULL }, &rc);
	assert_string_equal(out, ":dirs\n");
	free(out);
	out = capture((char *[]){ "tool", "__commands", NULL }, &rc);
	assert_non_null(strstr(out, "network list\n"));
	free(out);
}

static const struct cli_option scan_opts[] = {
	{ "rules", 0, "FILE", 0, "rules", 'f' },
	{ NULL },
};
static const struct cli_command dflt_commands[] = {
	{ "scan", "", 0, 0, scan_opts, record, NULL, "scan", NULL, CLI_DEFAULT, NULL },
	{ "check", "FILE", 1, 1, NULL, record, NULL, "check", NULL, 0, "f" },
	{ NULL },
};
static const struct cli_tool dflt_tool = { "ids", "1", "[OPTIONS]", NULL, dflt_commands, NULL, NULL };

static int run_dflt(char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(&seen, 0, sizeof(seen));
	return cli_main(&dflt_tool, argc, argv, NULL);
}

static void default_command(void **state)
{
	(void)state;
	assert_int_equal(run_dflt((char *[]){ "ids", "--rules", "r", NULL }), 0);
	assert_string_equal(seen.cmd, "scan");
	assert_int_equal(run_dflt((char *[]){ "ids", NULL }), 0);
	assert_string_equal(seen.cmd, "scan");
	assert_int_equal(run_dflt((char *[]){ "ids", "check", "f", NULL }), 0);
	assert_string_equal(seen.cmd, "check");
	assert_string_equal(seen.argv[0], "f");
	assert_int_equal(run_dflt((char *[]){ "ids", "bogus", NULL }), CLI_EXIT_USAGE);
	assert_null(seen.cmd);
	assert_int_equal(run_dflt((char *[]){ "ids", "check", "--rules", "x", "f", NULL }), CLI_EXIT_USAGE);
}

static void json_writer(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	struct json j;

	(void)state;
	json_init(&j, mem, false);
	json_object_begin(&j, NULL);
	json_str(&j, "name", "we\"b\n");
	json_array_begin(&j, "list");
	json_uint(&j, NULL, 18446744073709551615ULL);
	json_int(&j, NULL, -3);
	json_bool(&j, NULL, true);
	json_null(&j, NULL);
	json_array_end(&j);
	json_object_begin(&j, "empty");
	json_object_end(&j);
	json_strn(&j, "bin", "\xff\x01\xc3\xa9", 4);
	json_str(&j, "none", NULL);
	json_object_end(&j);
	json_finish(&j);
	fclose(mem);
	assert_string_equal(buf, "{\"name\":\"we\\\"b\\n\",\"list\":[18446744073709551615,-3,true,null],"
				 "\"empty\":{},\"bin\":\"\\u00ff\\u0001\xc3\xa9\",\"none\":null}\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(options_anywhere),
		cmocka_unit_test(repeat_and_json),
		cmocka_unit_test(rest_arguments),
		cmocka_unit_test(usage_errors),
		cmocka_unit_test(help_version_complete),
		cmocka_unit_test(default_command),
		cmocka_unit_test(json_writer),
	};

	/* The usage errors the cases provoke are printed on stderr. */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
