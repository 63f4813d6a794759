/*
 * The replay side of a fuzz target (built with -DREEL_FUZZ_REPLAY): a main
 * that runs every file of the seed folders through the target, one TAP case
 * per file, so the gcc build (which has no libFuzzer) exercises the same
 * code on the seeds.  A seed named valid-* must be accepted by the code
 * under test and one named bad-* refused; the target's replay callback says
 * which it was.  Included by one target file each, so its functions are
 * static.
 */
#ifndef REEL_FUZZ_REPLAY_H
#define REEL_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Runs one seed; returns 0 when it behaved as its name says, 1 otherwise,
 * with a few words in detail either way.
 */
typedef int (*fuzz_replay_fn)(const char *name, const uint8_t *data, size_t size, char *detail,
                              size_t len);

/* 0 when `accepted` is what the seed's name asks for (anything for other names). */
static inline int fuzz_expect(const char *name, bool accepted)
{
	if (!strncmp(name, "valid-", 6))
		return accepted ? 0 : 1;
	if (!strncmp(name, "bad-", 4))
		return accepted ? 1 : 0;
	return 0;
}

/* Exactly the file's bytes in an allocation of exactly that size, so ASan sees any overread. */
static inline uint8_t *fuzz_read_file(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || len > (1 << 20) ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return NULL;
	}
	data = malloc(len ? (size_t)len : 1);
	if (data && fread(data, 1, (size_t)len, f) != (size_t)len) {
		free(data);
		data = NULL;
	}
	fclose(f);
	*ret_size = (size_t)len;
	return data;
}

static inline int fuzz_write_seed(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static inline int fuzz_by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every file (not starting with '.') of every folder in argv[1..], in name order. */
static inline int fuzz_replay_main(int argc, char **argv, fuzz_replay_fn seed_fn)
{
	int cases = 0, failed = 0;

	for (int a = 1; a < argc; a++) {
		struct dirent **names;
		int n = scandir(argv[a], &names, NULL, fuzz_by_name);

		if (n < 0) {
			printf("not ok %d - cannot read %s\n", ++cases, argv[a]);
			failed++;
			continue;
		}
		for (int i = 0; i < n; i++) {
			const char *name = names[i]->d_name;
			char path[4096], detail[200] = "";
			uint8_t *data;
			size_t size = 0;

			if (name[0] == '.') {
				free(names[i]);
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s", argv[a], name);
			data = fuzz_read_file(path, &size);
			if (!data) {
				printf("not ok %d - cannot read %s\n", ++cases, path);
				failed++;
			} else if (seed_fn(name, data, size, detail, sizeof(detail)) != 0) {
				printf("not ok %d - %s: %s\n", ++cases, name, detail);
				failed++;
			} else {
				printf("ok %d - %s (%s)\n", ++cases, name, detail);
			}
			free(data);
			free(names[i]);
		}
		free(names);
	}
	printf("1..%d\n", cases);
	return failed ? 1 : 0;
}

#endif
