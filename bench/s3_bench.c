/*
 * s3_bench: raw PUT throughput of du's S3 client (du_s3_put_object), without scan or database.
 *
 *   s3_bench [--sink] ENDPOINT THREADS PUTS_PER_THREAD SIZE
 *
 * Each thread owns one connection and PUTs PUTS_PER_THREAD objects of SIZE bytes (from one buffer
 * filled and hashed before the clock starts) to bucket du-test under bench/tN/. Credentials come
 * from the usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). --sink is for an nginx that
 * answers every PUT with a constant ETag: the client is told the bucket uses SSE-KMS, the one case
 * where it does not compare the ETag with the MD5.
 *
 *   cc -O2 -D_GNU_SOURCE -Iinclude -o build/s3_bench bench/s3_bench.c build/std/libdu.a \
 *      $(pkg-config --libs libcurl libxml-2.0 libcrypto libcjson libpq) -pthread -lm
 *
 * Prints requests/s, MiB/s and CPU per request (user + system of the whole process).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "du/creds.h"
#include "du/crypto.h"
#include "du/s3.h"

static struct du_s3 *s3;
static int per;
static size_t size;
static pthread_barrier_t start;
static volatile int failed;

static void *worker(void *arg)
{
	long id = (long)arg;
	struct du_s3_conn *c = NULL;
	struct du_err err = {0};
	char *buf = malloc(size ? size : 1);
	unsigned char md5[DU_MD5_LEN];
	char key[128];

	if (!buf || du_s3_conn_new(s3, &c, &err)) {
		fprintf(stderr, "s3_bench: %s\n", buf ? err.msg : "out of memory");
		failed = 1;
	} else {
		memset(buf, 'a' + (int)(id % 26), size);
		du_md5(buf, size, md5);
	}
	pthread_barrier_wait(&start);
	struct du_s3_put p = { .md5 = md5 };
	for (int i = 0; i < per && !failed; i++) {
		snprintf(key, sizeof(key), "bench/t%ld/f%06d.wav", id, i);
		if (du_s3_put_object(c, key, buf, size, &p, NULL, &err)) {
			fprintf(stderr, "s3_bench: %s\n", err.msg);
			failed = 1;
		}
	}
	du_s3_conn_free(c);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	bool sink = argc > 1 && !strcmp(argv[1], "--sink");
	if (sink)
		argv++, argc--;
	if (argc != 5) {
		fprintf(stderr, "usage: s3_bench [--sink] ENDPOINT THREADS PUTS_PER_THREAD SIZE\n");
		return 2;
	}
	int threads = atoi(argv[2]);
	per = atoi(argv[3]);
	size = (size_t)strtoull(argv[4], NULL, 10);
	if (threads < 1 || threads > 256 || per < 1) {
		fprintf(stderr, "s3_bench: THREADS 1..256, PUTS_PER_THREAD >= 1\n");
		return 2;
	}
	struct du_creds_provider *cp;
	struct du_err err = {0};
	if (du_creds_provider_new(&cp, "default", false, &err)) {
		fprintf(stderr, "s3_bench: %s\n", err.msg);
		return 1;
	}
	struct du_s3_opts o = {
		.bucket = "du-test", .region = "us-east-1", .endpoint = argv[1],
		.sse = sink ? "aws:kms" : NULL,
	};
	if (du_s3_new(&s3, &o, cp, &err)) {
		fprintf(stderr, "s3_bench: %s\n", err.msg);
		return 1;
	}
	pthread_t th[256];
	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&start);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	struct du_s3_stats st;
	du_s3_stats(s3, &st);
	double n = (double)threads * per;
	printf("%.0f PUTs of %zu B, %d threads: %.2f s, %.0f PUT/s, %.1f MiB/s, CPU %.3f ms/PUT "
	       "(incl. setup), %llu attempts\n",
	       n, size, threads, el, n / el, n * (double)size / el / 1048576.0, cpu * 1000 / n,
	       (unsigned long long)st.attempts);
	du_s3_free(s3);
	du_creds_provider_free(cp);
	return failed;
}
