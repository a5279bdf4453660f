/* The job queue and its workers: see pool.h for who owns a job and what runs under mu. */
#include "engine/pool.h"

#include <stdlib.h>
#include <string.h>

bool du_pool_init(struct du_pool *p, int max_workers)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_job, NULL);
	pthread_cond_init(&p->cv_space, NULL);
	p->maxthreads = max_workers;
	p->threads = calloc(max_workers > 0 ? max_workers : 1, sizeof(*p->threads));
	return p->threads != NULL;
}

static void *worker_main(void *arg)
{
	struct du_pool_thread *t = arg;
	struct du_pool_job *j;
	while ((j = du_pool_pop(t->pool)))
		t->fn(t->worker, j);
	return NULL;
}

bool du_pool_start(struct du_pool *p, du_pool_fn *fn, void *worker)
{
	if (p->nthreads >= p->maxthreads)
		return false;
	struct du_pool_thread *t = &p->threads[p->nthreads];
	*t = (struct du_pool_thread){ .pool = p, .fn = fn, .worker = worker };
	if (pthread_create(&t->th, NULL, worker_main, t))
		return false;
	p->nthreads++;
	return true;
}

void du_pool_push(struct du_pool *p, struct du_pool_job *j, bool whole)
{
	j->next = NULL;
	j->whole = whole;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	if (whole)
		p->queued++;
	pthread_cond_signal(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
}

/* Under mu. Idle workers wait on this only once the pool is closed (they may then end). */
static void started_locked(struct du_pool *p)
{
	if (--p->starting == 0 && p->closed)
		pthread_cond_broadcast(&p->cv_job);
}

void du_pool_push_front(struct du_pool *p, struct du_pool_job *chain, bool started)
{
	struct du_pool_job *last = chain;
	int whole = 0;
	for (struct du_pool_job *j = chain; j; j = j->next) {
		whole += j->whole;
		last = j;
	}
	pthread_mutex_lock(&p->mu);
	if (last) {
		last->next = p->head;
		p->head = chain;
		if (!p->tail)
			p->tail = last;
		p->queued += whole;
	}
	if (started)
		started_locked(p);
	pthread_cond_broadcast(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
}

struct du_pool_job *du_pool_pop(struct du_pool *p)
{
	pthread_mutex_lock(&p->mu);
	/* An idle worker stays while a whole job being started may still bring sub-jobs for everyone. */
	while (!p->head && (!p->closed || p->starting > 0) && !p->stopped)
		pthread_cond_wait(&p->cv_job, &p->mu);
	struct du_pool_job *j = p->head;
	if (j) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		if (j->whole) {
			p->queued--;
			p->starting++;
			pthread_cond_signal(&p->cv_space);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return j;
}

void du_pool_started(struct du_pool *p)
{
	pthread_mutex_lock(&p->mu);
	started_locked(p);
	pthread_mutex_unlock(&p->mu);
}

bool du_pool_wait_room(struct du_pool *p, int max, bool (*stop)(void *arg), void *arg)
{
	pthread_mutex_lock(&p->mu);
	while (p->queued >= max && !p->stopped && !(stop && stop(arg)))
		pthread_cond_wait(&p->cv_space, &p->mu);
	bool room = !p->stopped;
	pthread_mutex_unlock(&p->mu);
	return room && !(stop && stop(arg));
}

void du_pool_close(struct du_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->closed = true;
	pthread_cond_broadcast(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
}

void du_pool_stop(struct du_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopped = true;
	pthread_cond_broadcast(&p->cv_job);
	pthread_cond_broadcast(&p->cv_space);
	pthread_mutex_unlock(&p->mu);
}

void du_pool_wake(struct du_pool *p)
{
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->cv_space);
	pthread_mutex_unlock(&p->mu);
}

void du_pool_join(struct du_pool *p)
{
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i].th, NULL);
	p->nthreads = 0;
}

struct du_pool_job *du_pool_drain(struct du_pool *p)
{
	pthread_mutex_lock(&p->mu);
	struct du_pool_job *j = p->head;
	p->head = p->tail = NULL;
	p->queued = 0;
	pthread_mutex_unlock(&p->mu);
	return j;
}

void du_pool_release(struct du_pool *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_job);
	pthread_cond_destroy(&p->cv_space);
	free(p->threads);
	p->threads = NULL;
}
