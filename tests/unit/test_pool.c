/* Unit tests for pool.h (the upload pipeline's job queue and workers), without S3 or PostgreSQL:
 * every job runs once, order, sub-jobs at the front, the feeder blocked while the queue is full,
 * idle workers kept while a job is starting, close and stop waking waiting threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/pool.h"

struct tjob {
	struct du_pool_job node;    /* first */
	int id;
};

struct seen {
	pthread_mutex_t mu;
	int runs[2048];
	int order[2048], n;
};

static void record(void *arg, struct du_pool_job *node)
{
	struct seen *s = arg;
	struct tjob *j = (struct tjob *)node;
	pthread_mutex_lock(&s->mu);
	s->runs[j->id]++;
	s->order[s->n++] = j->id;
	pthread_mutex_unlock(&s->mu);
	free(j);
}

static struct tjob *tjob(int id)
{
	struct tjob *j = calloc(1, sizeof(*j));
	assert_non_null(j);
	j->id = id;
	return j;
}

static struct seen *seen_new(void)
{
	struct seen *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

static void seen_free(struct seen *s)
{
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A thread that calls du_pool_join, so a test can see whether the workers have ended yet. */
struct joiner {
	struct du_pool *p;
	pthread_t th;
	volatile int done;
};

static void *join_main(void *arg)
{
	struct joiner *jn = arg;
	du_pool_join(jn->p);
	__atomic_store_n(&jn->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void joiner_start(struct joiner *jn, struct du_pool *p)
{
	jn->p = p;
	jn->done = 0;
	assert_int_equal(pthread_create(&jn->th, NULL, join_main, jn), 0);
}

/* true once the workers have ended, within ms */
static bool joined_within(struct joiner *jn, long ms)
{
	for (long t = 0; t < ms; t += 10) {
		if (__atomic_load_n(&jn->done, __ATOMIC_ACQUIRE))
			return true;
		sleep_ms(10);
	}
	return __atomic_load_n(&jn->done, __ATOMIC_ACQUIRE);
}

struct ctx {
	struct seen *s;
	struct du_pool *p;
};

/* Whole jobs must count as started, or idle workers never end after close. */
static void record_started(void *arg, struct du_pool_job *node)
{
	struct ctx *c = arg;
	bool whole = node->whole;
	record(c->s, node);
	if (whole)
		du_pool_started(c->p);
}

static void test_each_job_runs_once(void **state)
{
	(void)state;
	struct du_pool p;
	struct seen *s = seen_new();
	struct ctx arg[1] = { { s, &p } };
	assert_true(du_pool_init(&p, 4));
	for (int i = 0; i < 4; i++)
		assert_true(du_pool_start(&p, record_started, arg));
	for (int i = 0; i < 2000; i++)
		du_pool_push(&p, &tjob(i)->node, true);
	du_pool_close(&p);
	du_pool_join(&p);
	assert_int_equal(s->n, 2000);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(s->runs[i], 1);
	assert_null(du_pool_drain(&p));
	du_pool_release(&p);
	seen_free(s);
}

static void test_no_more_workers_than_room(void **state)
{
	(void)state;
	struct du_pool p;
	struct seen *s = seen_new();
	struct ctx arg[1] = { { s, &p } };
	assert_true(du_pool_init(&p, 1));
	assert_true(du_pool_start(&p, record_started, arg));
	assert_false(du_pool_start(&p, record_started, arg));
	du_pool_close(&p);
	du_pool_join(&p);
	du_pool_release(&p);
	seen_free(s);
}

/* One worker: the tail in push order, a chain pushed at the front ahead of it, in its order. */
static void test_order_and_front(void **state)
{
	(void)state;
	struct du_pool p;
	struct seen *s = seen_new();
	struct ctx arg[1] = { { s, &p } };
	assert_true(du_pool_init(&p, 1));
	for (int i = 0; i < 5; i++)
		du_pool_push(&p, &tjob(i)->node, true);
	struct tjob *a = tjob(100), *b = tjob(101);
	a->node.next = &b->node;
	b->node.next = NULL;
	du_pool_push_front(&p, &a->node, false);
	du_pool_close(&p);
	assert_true(du_pool_start(&p, record_started, arg));
	du_pool_join(&p);
	int want[] = { 100, 101, 0, 1, 2, 3, 4 };
	assert_int_equal(s->n, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(s->order[i], want[i]);
	du_pool_release(&p);
	seen_free(s);
}

struct feeder {
	struct du_pool *p;
	int max;
	volatile int stop;
	volatile int returned;      /* 1: room, 2: no room (stopped) */
	pthread_t th;
};

static bool feeder_stop(void *arg)
{
	struct feeder *fd = arg;
	return __atomic_load_n(&fd->stop, __ATOMIC_ACQUIRE);
}

static void *feeder_main(void *arg)
{
	struct feeder *fd = arg;
	bool room = du_pool_wait_room(fd->p, fd->max, feeder_stop, fd);
	__atomic_store_n(&fd->returned, room ? 1 : 2, __ATOMIC_RELEASE);
	return NULL;
}

static int feeder_result(struct feeder *fd, long ms)
{
	for (long t = 0; t < ms && !__atomic_load_n(&fd->returned, __ATOMIC_ACQUIRE); t += 10)
		sleep_ms(10);
	return __atomic_load_n(&fd->returned, __ATOMIC_ACQUIRE);
}

/* The feeder waits while max whole jobs are queued (sub-jobs do not count), until a pop. */
static void test_full_queue_blocks_the_feeder(void **state)
{
	(void)state;
	struct du_pool p;
	assert_true(du_pool_init(&p, 1));
	for (int i = 0; i < 3; i++)
		du_pool_push(&p, &tjob(i)->node, true);
	du_pool_push(&p, &tjob(9)->node, false);
	assert_true(du_pool_wait_room(&p, 4, NULL, NULL));      /* 3 whole jobs: room for a fourth */
	struct feeder fd = { .p = &p, .max = 3 };
	assert_int_equal(pthread_create(&fd.th, NULL, feeder_main, &fd), 0);
	assert_int_equal(feeder_result(&fd, 200), 0);          /* full: still waiting */
	struct du_pool_job *j = du_pool_pop(&p);                /* a worker takes one */
	assert_int_equal(((struct tjob *)j)->id, 0);
	free(j);
	assert_int_equal(feeder_result(&fd, 2000), 1);
	pthread_join(fd.th, NULL);
	for (struct du_pool_job *n = du_pool_drain(&p), *next; n; n = next) {
		next = n->next;
		free(n);
	}
	du_pool_release(&p);
}

/* A feeder waiting for room ends when its stop() says so after a wake, or when the pool stops. */
static void test_feeder_stop_and_wake(void **state)
{
	(void)state;
	struct du_pool p;
	assert_true(du_pool_init(&p, 1));
	du_pool_push(&p, &tjob(0)->node, true);
	struct feeder fd = { .p = &p, .max = 1 };
	assert_int_equal(pthread_create(&fd.th, NULL, feeder_main, &fd), 0);
	assert_int_equal(feeder_result(&fd, 100), 0);
	__atomic_store_n(&fd.stop, 1, __ATOMIC_RELEASE);
	du_pool_wake(&p);
	assert_int_equal(feeder_result(&fd, 2000), 2);
	pthread_join(fd.th, NULL);

	struct feeder f2 = { .p = &p, .max = 1 };
	assert_int_equal(pthread_create(&f2.th, NULL, feeder_main, &f2), 0);
	assert_int_equal(feeder_result(&f2, 100), 0);
	du_pool_stop(&p);
	assert_int_equal(feeder_result(&f2, 2000), 2);
	pthread_join(f2.th, NULL);
	assert_false(du_pool_wait_room(&p, 100, NULL, NULL));   /* stopped: no room ever */
	free(du_pool_drain(&p));
	du_pool_release(&p);
}

/* Idle workers wait for jobs until close; close wakes them all. */
static void test_close_wakes_idle_workers(void **state)
{
	(void)state;
	struct du_pool p;
	struct seen *s = seen_new();
	struct ctx arg[1] = { { s, &p } };
	struct joiner jn;
	assert_true(du_pool_init(&p, 3));
	for (int i = 0; i < 3; i++)
		assert_true(du_pool_start(&p, record_started, arg));
	joiner_start(&jn, &p);
	assert_false(joined_within(&jn, 200));     /* not closed: they wait */
	du_pool_push(&p, &tjob(7)->node, true);    /* a late job is still run */
	du_pool_close(&p);
	assert_true(joined_within(&jn, 5000));
	pthread_join(jn.th, NULL);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->runs[7], 1);
	du_pool_release(&p);
	seen_free(s);
}

/*
 * A whole job popped may still queue sub-jobs: after close, idle workers stay until it says it is
 * started, and the sub-jobs it pushed at the front then are run by them.
 */
struct starter {
	struct du_pool *p;
	struct seen *s;
	volatile int go;            /* the test lets the whole job go on */
	bool helped;                /* its sub-jobs were run by the other workers */
};

static void start_then_split(void *arg, struct du_pool_job *node)
{
	struct starter *st = arg;
	struct tjob *j = (struct tjob *)node;
	if (!node->whole) {
		record(st->s, node);
		return;
	}
	while (!__atomic_load_n(&st->go, __ATOMIC_ACQUIRE))
		sleep_ms(5);
	struct du_pool_job *chain = NULL;
	for (int k = 3; k >= 1; k--) {
		struct tjob *part = tjob(j->id + k);
		part->node.next = chain;
		chain = &part->node;
	}
	du_pool_push_front(st->p, chain, true);
	for (int t = 0; t < 2000 && !st->helped; t += 10) {
		pthread_mutex_lock(&st->s->mu);
		st->helped = st->s->n == 3;
		pthread_mutex_unlock(&st->s->mu);
		if (!st->helped)
			sleep_ms(10);
	}
	record(st->s, node);
}

static void test_starting_job_keeps_idle_workers(void **state)
{
	(void)state;
	struct du_pool p;
	struct starter st = { .p = &p, .s = seen_new() };
	struct joiner jn;
	assert_true(du_pool_init(&p, 3));
	du_pool_push(&p, &tjob(10)->node, true);
	for (int i = 0; i < 3; i++)
		assert_true(du_pool_start(&p, start_then_split, &st));
	du_pool_close(&p);
	joiner_start(&jn, &p);
	assert_false(joined_within(&jn, 200));    /* the job is starting: nobody may end */
	__atomic_store_n(&st.go, 1, __ATOMIC_RELEASE);
	assert_true(joined_within(&jn, 5000));
	pthread_join(jn.th, NULL);
	assert_true(st.helped);
	assert_int_equal(st.s->n, 4);
	for (int k = 0; k <= 3; k++)
		assert_int_equal(st.s->runs[10 + k], 1);
	du_pool_release(&p);
	seen_free(st.s);
}

/* Stop wakes idle workers even while a job is starting and nothing was closed; what is queued
 * still goes out (the job function is the one to see the stop), so nothing stays behind. */
static void test_stop_wakes_workers(void **state)
{
	(void)state;
	struct du_pool p;
	struct seen *s = seen_new();
	struct joiner jn;
	assert_true(du_pool_init(&p, 2));
	du_pool_push(&p, &tjob(1)->node, true);
	struct du_pool_job *taken = du_pool_pop(&p);       /* popped, never started: starting 1 */
	assert_non_null(taken);
	free(taken);
	for (int i = 0; i < 2; i++)
		assert_true(du_pool_start(&p, record, s));
	joiner_start(&jn, &p);
	assert_false(joined_within(&jn, 200));
	du_pool_stop(&p);
	assert_true(joined_within(&jn, 5000));
	pthread_join(jn.th, NULL);
	assert_int_equal(s->n, 0);
	du_pool_release(&p);
	seen_free(s);
}

/* With no worker (none could start), the jobs come back from drain, in order. */
static void test_drain_gives_back_jobs(void **state)
{
	(void)state;
	struct du_pool p;
	assert_true(du_pool_init(&p, 1));
	for (int i = 0; i < 4; i++)
		du_pool_push(&p, &tjob(i)->node, i != 2);
	du_pool_close(&p);
	du_pool_join(&p);
	int i = 0;
	for (struct du_pool_job *n = du_pool_drain(&p), *next; n; n = next, i++) {
		next = n->next;
		assert_int_equal(((struct tjob *)n)->id, i);
		assert_int_equal(n->whole, i != 2);
		free(n);
	}
	assert_int_equal(i, 4);
	assert_null(du_pool_drain(&p));
	assert_true(du_pool_wait_room(&p, 1, NULL, NULL));     /* drained: nothing counted */
	du_pool_release(&p);
}

int main(void)
{
	alarm(60); /* a broken pool hangs rather than fails: end it */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_job_runs_once),
		cmocka_unit_test(test_no_more_workers_than_room),
		cmocka_unit_test(test_order_and_front),
		cmocka_unit_test(test_full_queue_blocks_the_feeder),
		cmocka_unit_test(test_feeder_stop_and_wake),
		cmocka_unit_test(test_close_wakes_idle_workers),
		cmocka_unit_test(test_starting_job_keeps_idle_workers),
		cmocka_unit_test(test_stop_wakes_workers),
		cmocka_unit_test(test_drain_gives_back_jobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
