/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sodactl image build | list | rm. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sodactl.h"

/*
 * Progress on a terminal. soda_image_build() is one call with no progress
 * callback of its own, so what a person sees is that it is alive: the
 * phase and the time so far, redrawn on stderr twice a second while the
 * build runs, and nothing when stderr is not a terminal.
 */
struct progress {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, running;
	const char *what;
	struct timespec t0;
};

static void *progress_main(void *arg)
{
	struct progress *p = arg;
	static const char spin[] = "|/-\\";
	unsigned int tick = 0;

	pthread_mutex_lock(&p->lock);
	while (!p->done) {
		struct timespec now, until;

		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "\r%c %s: %.1f s ", spin[tick++ % 4], p->what,
			(now.tv_sec - p->t0.tv_sec) + (now.tv_nsec - p->t0.tv_nsec) / 1e9);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 500000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &until);
	}
	pthread_mutex_unlock(&p->lock);
	fprintf(stderr, "\r\033[K");
	return NULL;
}

static void progress_start(struct progress *p, const char *what)
{
	memset(p, 0, sizeof(*p));
	if (!isatty(2))
		return;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->what = what;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	p->running = pthread_create(&p->thread, NULL, progress_main, p) == 0;
}

static void progress_stop(struct progress *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->done = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
}

int sctl_image_build(struct cli_call *c)
{
	static const struct {
		const char *opt;
		int kind;
	} sources[] = {
		{ "from-dir", SODA_IMAGE_SOURCE_DIRECTORY },
		{ "from-tar", SODA_IMAGE_SOURCE_TARBALL },
		{ "from-ext4", SODA_IMAGE_SOURCE_EXT4 },
	};
	soda_context *ctx = sctl_context(c);
	int kind = SODA_IMAGE_SOURCE_BUSYBOX;
	const char *source = NULL, *size_arg = cli_get(c, "size");
	unsigned long long size = 0;
	char *abs = NULL, what[128];
	struct progress p;
	soda_error *e = NULL;
	int r;

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		const char *v = cli_get(c, sources[i].opt);

		if (!v)
			continue;
		if (source)
			return cli_usage_error(c, "give one source: --from-dir, --from-tar or --from-ext4");
		source = v;
		kind = sources[i].kind;
	}
	if (size_arg && !cli_parse_u64(size_arg, 1u << 20, &size))
		return cli_usage_error(c, "--size takes MiB, not '%s'", size_arg);
	if (!ctx)
		return CLI_EXIT_FAIL;
	if (source && !(abs = sctl_absolute(source)))
		return CLI_EXIT_FAIL;
	snprintf(what, sizeof(what), "building image %s", c->argv[0]);
	progress_start(&p, what);
	r = soda_image_build(ctx, c->argv[0], kind, abs, size << 20,
			     cli_has(c, "replace") ? SODA_IMAGE_REPLACE : 0, &e);
	progress_stop(&p);
	free(abs);
	if (r < 0)
		return sctl_fail(e, "image build");
	printf("built image %s\n", c->argv[0]);
	return 0;
}

int sctl_image_list(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	char **names = NULL;
	soda_error *e = NULL;

	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_image_list(&names, NULL, ctx, 0, &e) < 0)
		return sctl_fail(e, "image list");
	if (c->json) {
		struct json j;

		sctl_json(&j);
		json_array_begin(&j, NULL);
		for (size_t i = 0; names[i]; i++) {
			json_object_begin(&j, NULL);
			json_str(&j, "name", names[i]);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_finish(&j);
	} else {
		for (size_t i = 0; names[i]; i++)
			printf("%s\n", names[i]);
	}
	soda_strv_free(names);
	return 0;
}

int sctl_image_rm(struct cli_call *c)
{
	soda_context *ctx = sctl_context(c);
	soda_error *e = NULL;

	if (!ctx)
		return CLI_EXIT_FAIL;
	if (soda_image_remove(ctx, c->argv[0], 0, &e) < 0)
		return sctl_fail(e, c->argv[0]);
	printf("removed image %s\n", c->argv[0]);
	return 0;
}
