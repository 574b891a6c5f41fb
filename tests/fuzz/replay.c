/*
 * replay.c - run a fuzz target over files, for builds without libFuzzer.
 *
 * Each argument is a file, or a folder whose regular files are taken in
 * name order.  Every file is one call to LLVMFuzzerTestOneInput() and one
 * TAP result: a crash or a sanitizer report ends the program, which the
 * TAP driver reports as a failure.  Without arguments the corpus is taken
 * from $top_srcdir/tests/fuzz/corpus/NAME for a program called fuzz_NAME,
 * so that `make check` may also run the program bare.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct list {
	char	**path;
	size_t	  n, cap;
};

/* list_add - remember one path (a copy) */
static void
list_add(struct list *l, const char *path)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((l->path = realloc(l->path, l->cap * sizeof(*l->path))) ==
		    NULL) {
			perror("realloc");
			exit(99);
		}
	}
	if ((l->path[l->n++] = strdup(path)) == NULL) {
		perror("strdup");
		exit(99);
	}
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* add_arg - a file, or the regular files of a folder in name order */
static void
add_arg(struct list *l, const char *arg)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	size_t		 first = l->n;

	if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode)) {
		list_add(l, arg);	/* a missing file fails when read */
		return;
	}
	if ((d = opendir(arg)) == NULL) {
		list_add(l, arg);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", arg, de->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			list_add(l, path);
	}
	closedir(d);
	qsort(l->path + first, l->n - first, sizeof(*l->path), by_name);
}

/* read_file - the whole file in a malloc'ed buffer */
static uint8_t *
read_file(const char *path, size_t *len)
{
	uint8_t	*buf = NULL, *nb;
	size_t	 cap = 0, n;
	FILE	*f;

	*len = 0;
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL)
				break;
			buf = nb;
		}
		if ((n = fread(buf + *len, 1, cap - *len, f)) == 0)
			break;
		*len += n;
	}
	if (ferror(f) || *len == cap) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int
main(int argc, char **argv)
{
	struct list	 l = { NULL, 0, 0 };
	int		 failed = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		add_arg(&l, argv[i]);
	if (argc < 2) {
		const char *top = getenv("top_srcdir"), *base;
		char dir[4096];

		base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 :
		    argv[0];
		if (top == NULL || strncmp(base, "fuzz_", 5) != 0) {
			printf("1..0 # SKIP no input files or folders given\n");
			return 0;
		}
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top,
		    base + 5);
		add_arg(&l, dir);
	}
	printf("1..%zu\n", l.n);
	fflush(stdout);
	for (size_t i = 0; i < l.n; i++) {
		uint8_t	*data;
		size_t	 len;

		if ((data = read_file(l.path[i], &len)) == NULL) {
			printf("not ok %zu - %s # cannot read: %s\n", i + 1,
			    l.path[i], strerror(errno));
			failed = 1;
		} else {
			/* Print the name first: a crash then shows which. */
			printf("# %s (%zu bytes)\n", l.path[i], len);
			fflush(stdout);
			LLVMFuzzerTestOneInput(data, len);
			printf("ok %zu - %s\n", i + 1, l.path[i]);
		}
		fflush(stdout);
		free(data);
		free(l.path[i]);
	}
	free(l.path);
	return failed;
}
