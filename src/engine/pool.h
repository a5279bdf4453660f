/*
 * pool.h (private): the job queue of the upload pipeline and the worker threads that empty it.
 * It knows nothing of files, S3 or the database: a job is any struct that embeds a
 * struct du_pool_job, and a worker runs it with the function it was started with.
 *
 *     struct du_pool pool;
 *     du_pool_init(&pool, nworkers);
 *     du_pool_start(&pool, run_job, &workers[i]);    // once per worker; run_job frees the job
 *     du_pool_push(&pool, &job->node, true);         // the feeder: a whole job, at the tail
 *     du_pool_close(&pool);                          // no more whole jobs will come
 *     du_pool_join(&pool);                           // every worker has ended
 *     for (j = du_pool_drain(&pool); j; j = next) ...    // what nobody took (stopped)
 *     du_pool_release(&pool);
 *
 * Who owns a job:
 *   - queued: the pool, from du_pool_push/du_pool_push_front until a worker pops it;
 *   - popped: the worker that du_pool_pop returned it to; it runs it and frees it (the pool never
 *     frees a job). A whole job popped is "starting" until its worker calls du_pool_started: it
 *     may still queue sub-jobs (the parts of a file) at the front, and idle workers wait for
 *     them instead of exiting;
 *   - its outcome: whatever the job function hands on (the pipeline's writer queue); not the pool's;
 *   - after du_pool_join: jobs still queued (no worker started) go back to the caller through
 *     du_pool_drain.
 *
 * Locking: one mutex, mu, guards the queue, the counts (queued whole jobs, starting) and the
 * flags closed and stopped; nothing runs under it but their updates (no job, no I/O).
 *   cv_job:   workers wait in du_pool_pop while the queue is empty and more may come (not closed,
 *             or a whole job still starting) and the pool is not stopped; signalled by a push,
 *             broadcast by du_pool_push_front, du_pool_close, du_pool_stop and the last
 *             du_pool_started after close.
 *   cv_space: the feeder waits in du_pool_wait_room while max whole jobs are queued; signalled when
 *             a worker pops a whole job, broadcast by du_pool_stop and du_pool_wake (for a stop()
 *             that is polled, as a signal's level is).
 * Other threads take no lock of the caller's while holding mu, and the pool calls no job
 * function with it held.
 */
#ifndef DU_POOL_H
#define DU_POOL_H

#include <pthread.h>
#include <stdbool.h>

struct du_pool_job {
	struct du_pool_job *next;
	bool whole;                 /* a whole job (counted, starting once popped), not a sub-job */
};

typedef void du_pool_fn(void *worker, struct du_pool_job *job);

struct du_pool_thread {
	pthread_t th;
	struct du_pool *pool;
	du_pool_fn *fn;
	void *worker;
};

struct du_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_space;
	struct du_pool_job *head, *tail;
	int queued;                 /* whole jobs waiting */
	int starting;               /* whole jobs popped whose worker has not called du_pool_started */
	bool closed, stopped;
	struct du_pool_thread *threads;
	int nthreads, maxthreads;
};

/* For at most max_workers threads. Returns false when out of memory. */
bool du_pool_init(struct du_pool *p, int max_workers);
/* Start one worker thread running fn(worker, job) for each job it pops; false if it could not. */
bool du_pool_start(struct du_pool *p, du_pool_fn *fn, void *worker);
/* Queue a job at the tail (j->whole says which kind). */
void du_pool_push(struct du_pool *p, struct du_pool_job *j, bool whole);
/*
 * Queue a chain of sub-jobs (linked through next, NULL-terminated, may be empty) at the front, in
 * its order. started: the caller's whole job queues nothing more (as du_pool_started), under the
 * same lock, so no idle worker exits in between.
 */
void du_pool_push_front(struct du_pool *p, struct du_pool_job *chain, bool started);
/* The next job, waiting for one; NULL when the queue is empty and no job can come: closed with
 * nothing starting, or stopped. A stopped pool still hands out what is queued (the job function
 * sees the stop and gives the job back). */
struct du_pool_job *du_pool_pop(struct du_pool *p);
/* The whole job this worker popped will queue no sub-jobs. */
void du_pool_started(struct du_pool *p);
/*
 * The feeder: wait while max or more whole jobs are queued. true when there is room; false when
 * the pool was stopped or stop(arg) (may be NULL) said stop, asked on each wake-up with mu held
 * (so it must take no lock: an atomic load, as du_stop_level).
 */
bool du_pool_wait_room(struct du_pool *p, int max, bool (*stop)(void *arg), void *arg);
/* No more whole jobs: workers end once the queue is empty and nothing is starting. */
void du_pool_close(struct du_pool *p);
/* Stop waiting for jobs that may come: idle workers and the feeder wake, workers end once the
 * queue is empty (the jobs still queued are handed out: stopping is the job function's to see). */
void du_pool_stop(struct du_pool *p);
/* Wake the feeder so it asks its stop() again. */
void du_pool_wake(struct du_pool *p);
/* Wait for every started worker to end (call du_pool_close or du_pool_stop first). */
void du_pool_join(struct du_pool *p);
/* After du_pool_join: the jobs still queued, as a chain; the queue is empty after. */
struct du_pool_job *du_pool_drain(struct du_pool *p);
void du_pool_release(struct du_pool *p);

#endif
