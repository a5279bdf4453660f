/*
 * scan_bench: how fast du_scan walks a warm tree, against `find -printf`.
 *
 *   scan_bench make ROOT FILES DIRS     create FILES empty-ish .wav files spread over DIRS directories
 *                                       (two levels: ROOT/gNN/dNNNN/fNNNNNN.wav)
 *   scan_bench compare ROOT [REPEAT]    best of REPEAT (3) round-robin wall-clock runs of:
 *                                         find ROOT -type f -printf '%s %T@ %p\n' > /dev/null
 *                                         du_scan native, threads 1 and auto, counting only
 *                                         du_scan native auto, printing the same line as find
 *                                         du_scan find mode
 *   scan_bench scan [-t N] [-f] [-p] ROOT   one run, prints files, bytes, seconds
 *
 * The first pass of compare warms the cache and is not counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "du/log.h"
#include "du/scan.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static FILE *devnull;

static int count(void *arg, const struct du_scan_entry *e)
{
	uint64_t *sum = arg;
	*sum += e->size + strlen(e->rel);
	return 0;
}

static int print(void *arg, const struct du_scan_entry *e)
{
	(void)arg;
	fprintf(devnull, "%" PRIu64 " %" PRId64 ".%09" PRId64 " %s\n", e->size,
		e->mtime_ns / 1000000000, e->mtime_ns % 1000000000, e->path);
	return 0;
}

static double run_scan(const char *root, int threads, bool use_find, bool printing, uint64_t *files)
{
	struct du_scan_opts o = { .root = root, .threads = threads, .use_find = use_find };
	struct du_scan_stats st;
	struct du_err err = { 0 };
	uint64_t sum = 0;
	double t0 = now();
	if (du_scan(&o, printing ? print : count, &sum, &st, &err)) {
		fprintf(stderr, "scan_bench: %s\n", err.msg);
		exit(1);
	}
	fflush(devnull);
	*files = st.files;
	return now() - t0;
}

static double run_find(const char *root)
{
	double t0 = now();
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execlp("find", "find", root, "-type", "f", "-printf", "%s %T@ %p\\n", (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "scan_bench: find failed\n");
		exit(1);
	}
	return now() - t0;
}

static int make_tree(const char *root, long files, long dirs)
{
	char p[4096];
	long groups = dirs / 100 + 1;
	if (mkdir(root, 0755) && errno != EEXIST) {
		perror(root);
		return 1;
	}
	for (long g = 0; g < groups; g++) {
		snprintf(p, sizeof(p), "%s/g%02ld", root, g);
		mkdir(p, 0755);
	}
	for (long d = 0; d < dirs; d++) {
		snprintf(p, sizeof(p), "%s/g%02ld/d%04ld", root, d % groups, d);
		mkdir(p, 0755);
	}
	for (long f = 0; f < files; f++) {
		long d = f % dirs;
		snprintf(p, sizeof(p), "%s/g%02ld/d%04ld/f%06ld.wav", root, d % groups, d, f);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(p);
			return 1;
		}
		if (f % 10 == 0 && write(fd, p, strlen(p)) < 0)
			perror(p);
		close(fd);
	}
	return 0;
}

struct variant {
	const char *label;
	bool is_find_cmd, use_find, printing;
	int threads;
};

static int compare(const char *root, int reps)
{
	static const struct variant v[] = {
		{ "find -printf", true, false, false, 0 },
		{ "native, 1 thread", false, false, false, 1 },
		{ "native, 2 threads", false, false, false, 2 },
		{ "native, auto threads", false, false, false, 0 },
		{ "native, auto, printing", false, false, true, 0 },
		{ "find mode", false, true, false, 0 },
	};
	enum { NV = sizeof(v) / sizeof(v[0]) };
	uint64_t files = 0;
	double best[NV];
	run_find(root); /* warm the cache */
	/* Round-robin, so a busy machine slows every variant alike; keep each one's best. */
	for (size_t i = 0; i < NV; i++)
		best[i] = 1e30;
	for (int r = 0; r < reps; r++) {
		for (size_t i = 0; i < NV; i++) {
			double t = v[i].is_find_cmd ? run_find(root)
				: run_scan(root, v[i].threads, v[i].use_find, v[i].printing, &files);
			if (t < best[i])
				best[i] = t;
		}
	}
	printf("scan_bench: %s, %ld CPUs, best of %d\n", root, sysconf(_SC_NPROCESSORS_ONLN), reps);
	for (size_t i = 0; i < NV; i++)
		printf("  %-24s %8.3f s  %5.2fx find\n", v[i].label, best[i], best[i] / best[0]);
	printf("  (%" PRIu64 " files)\n", files);
	return 0;
}

int main(int argc, char **argv)
{
	du_log_init("scan_bench");
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		return 1;
	setvbuf(devnull, NULL, _IOFBF, 1 << 16);
	if (argc >= 5 && !strcmp(argv[1], "make"))
		return make_tree(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "compare"))
		return compare(argv[2], argc > 3 ? atoi(argv[3]) : 3);
	if (argc >= 3 && !strcmp(argv[1], "scan")) {
		int threads = 0, opt;
		bool use_find = false, printing = false;
		optind = 2;
		while ((opt = getopt(argc, argv, "t:fp")) != -1) {
			if (opt == 't')
				threads = atoi(optarg);
			else if (opt == 'f')
				use_find = true;
			else if (opt == 'p')
				printing = true;
			else
				return 2;
		}
		if (optind >= argc)
			return 2;
		uint64_t files;
		double t = run_scan(argv[optind], threads, use_find, printing, &files);
		printf("%" PRIu64 " files in %.3f s\n", files, t);
		return 0;
	}
	fprintf(stderr, "usage: scan_bench make ROOT FILES DIRS | compare ROOT [REPEAT] | "
			"scan [-t N] [-f] [-p] ROOT\n");
	return 2;
}
