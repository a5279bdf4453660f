/*
 * scan.c: the streaming directory scanner (native walker and find mode) and S3 key derivation.
 *
 * Native walker, who owns what:
 *   - the directory stack (w->stack, under w->qmu) holds paths only (struct dnode); a worker pops
 *     one, opens it relative to the root fd, reads it whole, closes it: at most one directory
 *     descriptor per worker is open at any time;
 *   - a worker fills its own batch (entries + a path arena); a full batch goes through the
 *     bounded output queue (w->ohead, under w->omu) to the caller's thread, which runs the
 *     callbacks and hands the emptied batch back through the free list;
 *   - with one thread the caller is the only worker and delivers its batches itself.
 * Memory is bounded by OUTQ_MAX batches plus the pending paths.
 */
#include "du/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "du/log.h"
#include "du/strbuf.h"
#include "du/wait.h"

extern char **environ;

const char *const du_scan_default_exclude[] = { "._*", ".*", NULL };

#define BATCH_N 256          /* entries per batch */
#define BATCH_ARENA 65536    /* a batch is also full at this many path bytes */
#define OUTQ_MAX 16          /* full batches waiting for the caller's thread */
#define KIDS_FLUSH 64        /* subdirectories handed to the shared stack at once */
#define MAX_AUTO_THREADS 8
#define MAX_THREADS 64
#define STOP_POLL_MS 100     /* how often an idle caller's thread looks at o->stop */

/* ---- filters ---- */

static bool excluded(char *const *excl, const char *name)
{
	if (!excl)
		return false;
	for (; *excl; excl++)
		if (fnmatch(*excl, name, 0) == 0)
			return true;
	return false;
}

static bool ext_ok(char *const *ext, const char *name)
{
	if (!ext)
		return true;
	const char *dot = strrchr(name, '.');
	if (!dot)
		return false;
	for (; *ext; ext++) {
		const char *e = **ext == '.' ? *ext + 1 : *ext; /* tolerate ".wav" */
		if (!strcasecmp(e, dot + 1))
			return true;
	}
	return false;
}

/* ---- the caller's side: callbacks, counting, progress, stop ---- */

struct sink {
	const struct du_scan_opts *o;
	int (*cb)(void *arg, const struct du_scan_entry *e);
	void *arg;
	uint64_t files, bytes;
	bool stopped;
};

static bool stop_asked(const struct du_scan_opts *o)
{
	return o->stop && *o->stop;
}

static int sink_put(struct sink *s, const struct du_scan_entry *e)
{
	if (stop_asked(s->o)) {
		s->stopped = true;
		return DU_ERR_INTERRUPTED;
	}
	int rc = s->cb(s->arg, e);
	if (rc)
		return rc;
	s->files++;
	s->bytes += e->size;
	if (s->o->progress && s->files % DU_SCAN_PROGRESS_EVERY == 0)
		s->o->progress(s->o->progress_arg, s->files, s->bytes);
	return 0;
}

/* ---- native walker ---- */

struct dnode {
	struct dnode *next;   /* stack link */
	struct dnode *parent; /* kept only when following symlinks, for loop detection */
	atomic_uint refs;     /* 1 for itself + 1 per child node alive */
	uint64_t dev, ino;    /* known once opened (follow_symlinks only) */
	size_t len;
	char rel[];           /* "" for the root */
};

struct batch_ent {
	uint64_t size, ino, dev;
	int64_t mtime_ns;
	size_t off; /* of the path in buf */
};

struct batch {
	struct batch *next;
	unsigned n;
	struct du_strbuf paths;   /* the entries' paths, each with its NUL, found by offset */
	struct batch_ent e[BATCH_N];
};

struct walker {
	const struct du_scan_opts *o;
	struct sink *sink;
	int rootfd;
	const char *base;   /* ROOT without trailing '/' ("/" stays) */
	const char *prefix; /* what every path starts with: base + "/" (or "/" for the root "/") */
	size_t prefixlen;
	const char *fail_open; /* test hook, see scan.h */
	bool serial;

	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct dnode *stack;
	int active;   /* directories being read */
	bool finished;

	pthread_mutex_t omu;
	pthread_cond_t ocv;     /* consumer: a batch arrived or a producer left */
	pthread_cond_t spacecv; /* producers: room in the queue */
	struct batch *ohead, *otail, *freel;
	int on;
	int producers;

	atomic_int abort;
	atomic_int nomem;
	int rc; /* serial mode: the callback's verdict */
};

struct worker {
	struct walker *w;
	pthread_t tid;
	struct batch *b;
	struct dnode *kids;
	int nkids;
	uint64_t skipped_ext, skipped_excluded, warnings, dirs;
};

static struct dnode *dnode_new(const struct dnode *parent, const char *name, bool keep_parent)
{
	size_t nl = strlen(name), plen = parent ? parent->len : 0;
	size_t len = plen ? plen + 1 + nl : nl;
	struct dnode *d = malloc(sizeof(*d) + len + 1);
	if (!d)
		return NULL;
	d->next = NULL;
	d->parent = NULL;
	atomic_init(&d->refs, 1);
	d->dev = d->ino = 0;
	d->len = len;
	if (plen) {
		memcpy(d->rel, parent->rel, plen);
		d->rel[plen] = '/';
		memcpy(d->rel + plen + 1, name, nl + 1);
	} else {
		memcpy(d->rel, name, nl + 1);
	}
	if (keep_parent && parent) {
		d->parent = (struct dnode *)parent;
		atomic_fetch_add(&d->parent->refs, 1);
	}
	return d;
}

static void dnode_put(struct dnode *d)
{
	while (d && atomic_fetch_sub(&d->refs, 1) == 1) {
		struct dnode *p = d->parent;
		free(d);
		d = p;
	}
}

static void wake_all(struct walker *w)
{
	pthread_mutex_lock(&w->qmu);
	pthread_cond_broadcast(&w->qcv);
	pthread_mutex_unlock(&w->qmu);
	pthread_mutex_lock(&w->omu);
	pthread_cond_broadcast(&w->spacecv);
	pthread_cond_broadcast(&w->ocv);
	pthread_mutex_unlock(&w->omu);
}

static void set_abort(struct walker *w)
{
	atomic_store(&w->abort, 1);
	if (!w->serial)
		wake_all(w);
}

static void batch_free(struct batch *b)
{
	if (b) {
		du_strbuf_release(&b->paths);
		free(b);
	}
}

static struct batch *batch_get(struct walker *w)
{
	struct batch *b = NULL;
	pthread_mutex_lock(&w->omu);
	if (w->freel) {
		b = w->freel;
		w->freel = b->next;
	}
	pthread_mutex_unlock(&w->omu);
	if (!b) {
		b = malloc(sizeof(*b));
		if (!b)
			return NULL;
		b->paths = (struct du_strbuf)DU_STRBUF_INIT;
		if (!du_strbuf_grow(&b->paths, BATCH_ARENA / 2 - 1)) {   /* BATCH_ARENA / 2 with the NUL */
			free(b);
			return NULL;
		}
	}
	b->next = NULL;
	b->n = 0;
	du_strbuf_reset(&b->paths);
	return b;
}

static void batch_recycle(struct walker *w, struct batch *b)
{
	pthread_mutex_lock(&w->omu);
	b->next = w->freel;
	w->freel = b;
	pthread_mutex_unlock(&w->omu);
}

static int deliver(struct walker *w, struct batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct batch_ent *be = &b->e[i];
		struct du_scan_entry e = {
			.path = b->paths.buf + be->off,
			.rel = b->paths.buf + be->off + w->prefixlen,
			.size = be->size,
			.mtime_ns = be->mtime_ns,
			.ino = be->ino,
			.dev = be->dev,
		};
		int rc = sink_put(w->sink, &e);
		if (rc)
			return rc;
	}
	return 0;
}

/* Hand the worker's batch on: to the callbacks directly (serial) or to the output queue. */
static void flush(struct worker *k)
{
	struct walker *w = k->w;
	struct batch *b = k->b;
	if (!b || !b->n)
		return;
	if (w->serial) {
		int rc = atomic_load(&w->abort) ? 0 : deliver(w, b);
		if (rc) {
			w->rc = rc;
			set_abort(w);
		}
		b->n = 0;
		du_strbuf_reset(&b->paths);
		return;
	}
	k->b = NULL;
	pthread_mutex_lock(&w->omu);
	while (w->on >= OUTQ_MAX && !atomic_load(&w->abort))
		pthread_cond_wait(&w->spacecv, &w->omu);
	if (atomic_load(&w->abort)) {
		b->next = w->freel;
		w->freel = b;
	} else {
		b->next = NULL;
		if (w->otail)
			w->otail->next = b;
		else
			w->ohead = b;
		w->otail = b;
		w->on++;
		pthread_cond_signal(&w->ocv);
	}
	pthread_mutex_unlock(&w->omu);
}

static void out_of_memory(struct walker *w)
{
	atomic_store(&w->nomem, 1);
	set_abort(w);
}

static void emit(struct worker *k, const struct dnode *d, const char *name, const struct stat *sb)
{
	struct walker *w = k->w;
	if (!k->b && !(k->b = batch_get(w))) {
		out_of_memory(w);
		return;
	}
	struct batch *b = k->b;
	size_t nl = strlen(name);
	size_t need = w->prefixlen + (d->len ? d->len + 1 : 0) + nl + 1;
	struct du_strbuf *pb = &b->paths;
	size_t off = pb->len;
	if (!du_strbuf_grow(pb, need)) {
		out_of_memory(w);
		return;
	}
	du_strbuf_add(pb, w->prefix, w->prefixlen);
	if (d->len) {
		du_strbuf_add(pb, d->rel, d->len);
		du_strbuf_addc(pb, '/');
	}
	du_strbuf_add(pb, name, nl + 1);   /* with its NUL: the next path starts after it */
	b->e[b->n++] = (struct batch_ent){
		.size = (uint64_t)sb->st_size,
		.ino = (uint64_t)sb->st_ino,
		.dev = (uint64_t)sb->st_dev,
		.mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec,
		.off = off,
	};
	if (b->n == BATCH_N || pb->len >= BATCH_ARENA)
		flush(k);
}

/* Give the subdirectories found so far to the shared stack, where idle workers can take them. */
static void push_kids(struct worker *k)
{
	struct walker *w = k->w;
	if (!k->kids)
		return;
	struct dnode *last = k->kids;
	while (last->next)
		last = last->next;
	pthread_mutex_lock(&w->qmu);
	last->next = w->stack;
	w->stack = k->kids;
	if (k->nkids > 1)
		pthread_cond_broadcast(&w->qcv);
	else
		pthread_cond_signal(&w->qcv);
	pthread_mutex_unlock(&w->qmu);
	k->kids = NULL;
	k->nkids = 0;
}

static void add_kid(struct worker *k, const struct dnode *d, const char *name)
{
	struct dnode *c = dnode_new(d, name, k->w->o->follow_symlinks);
	if (!c) {
		out_of_memory(k->w);
		return;
	}
	c->next = k->kids;
	k->kids = c;
	if (++k->nkids >= KIDS_FLUSH)
		push_kids(k);
}

static void warn_path(struct worker *k, const struct dnode *d, const char *name, const char *what,
		      int e)
{
	const struct walker *w = k->w;
	k->warnings++;
	if (name)
		du_warn("%s '%s%s%s%s': %s", what, w->prefix, d->rel, d->len ? "/" : "", name,
			strerror(e));
	else
		du_warn("%s '%s%s': %s", what, d->len ? w->prefix : w->base, d->rel, strerror(e));
}

static void skip_debug(const struct worker *k, const struct dnode *d, const char *name,
		       const char *what)
{
	du_debug("skipping %s '%s%s%s%s'", what, k->w->prefix, d->rel, d->len ? "/" : "", name);
}

static void handle_entry(struct worker *k, const struct dnode *d, int dfd, const char *name,
			 unsigned char type)
{
	const struct du_scan_opts *o = k->w->o;
	struct stat sb;
	bool have = false;

	if (type == DT_LNK) {
		if (!o->follow_symlinks) {
			skip_debug(k, d, name, "symbolic link");
			return;
		}
		if (fstatat(dfd, name, &sb, 0)) {
			if (errno == ENOENT || errno == ELOOP)
				skip_debug(k, d, name, "dangling symbolic link");
			else
				warn_path(k, d, name, "cannot stat", errno);
			return;
		}
		have = true;
	} else if (type == DT_UNKNOWN) {
		if (fstatat(dfd, name, &sb, o->follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW)) {
			if (o->follow_symlinks && (errno == ENOENT || errno == ELOOP))
				skip_debug(k, d, name, "vanished or dangling entry");
			else
				warn_path(k, d, name, "cannot stat", errno);
			return;
		}
		have = true;
	}
	if (have)
		type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG
			: S_ISLNK(sb.st_mode) ? DT_LNK : DT_FIFO;

	switch (type) {
	case DT_DIR:
		add_kid(k, d, name);
		return;
	case DT_REG:
		if (!ext_ok(o->extensions, name)) {
			k->skipped_ext++;
			return;
		}
		if (!have && fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW)) {
			warn_path(k, d, name, "cannot stat", errno);
			return;
		}
		if (!S_ISREG(sb.st_mode)) /* replaced since readdir */
			return;
		emit(k, d, name, &sb);
		return;
	case DT_LNK:
		skip_debug(k, d, name, "symbolic link");
		return;
	default:
		skip_debug(k, d, name, "special file");
		return;
	}
}

static const char *dnode_name(const struct dnode *d)
{
	const char *s = strrchr(d->rel, '/');
	return s ? s + 1 : d->rel;
}

static void read_dir(struct worker *k, struct dnode *d)
{
	struct walker *w = k->w;
	const struct du_scan_opts *o = w->o;
	int fd;

	if (w->fail_open && d->len && !strcmp(dnode_name(d), w->fail_open)) {
		fd = -1;
		errno = EACCES;
	} else {
		fd = openat(w->rootfd, d->len ? d->rel : ".",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC | (o->follow_symlinks ? 0 : O_NOFOLLOW));
	}
	if (fd < 0) {
		warn_path(k, d, NULL, "cannot open directory", errno);
		return;
	}
	if (o->follow_symlinks) {
		struct stat sb;
		if (fstat(fd, &sb)) {
			warn_path(k, d, NULL, "cannot stat directory", errno);
			close(fd);
			return;
		}
		d->dev = (uint64_t)sb.st_dev;
		d->ino = (uint64_t)sb.st_ino;
		for (const struct dnode *p = d->parent; p; p = p->parent) {
			if (p->dev == d->dev && p->ino == d->ino) {
				k->warnings++;
				du_warn("file system loop at '%s%s', not followed", w->prefix, d->rel);
				close(fd);
				return;
			}
		}
	}
	DIR *dir = fdopendir(fd);
	if (!dir) {
		warn_path(k, d, NULL, "cannot read directory", errno);
		close(fd);
		return;
	}
	k->dirs++;
	for (unsigned seen = 1;; seen++) {
		if (!(seen % 4096) && w->serial && stop_asked(o))
			set_abort(w);
		errno = 0;
		struct dirent *de = readdir(dir);
		if (!de) {
			if (errno)
				warn_path(k, d, NULL, "cannot read directory", errno);
			break;
		}
		const char *name = de->d_name;
		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		if (excluded(o->exclude, name)) {
			k->skipped_excluded++;
			continue;
		}
		handle_entry(k, d, dirfd(dir), name, de->d_type);
		if (atomic_load_explicit(&w->abort, memory_order_relaxed))
			break;
	}
	closedir(dir);
}

/* Next directory to read, or NULL when the walk is over (or aborted). */
static struct dnode *take_dir(struct worker *k)
{
	struct walker *w = k->w;
	struct dnode *d = NULL;
	pthread_mutex_lock(&w->qmu);
	for (;;) {
		if (w->serial && stop_asked(w->o)) /* in parallel mode the caller's thread looks */
			atomic_store(&w->abort, 1);
		if (atomic_load(&w->abort) || w->finished)
			break;
		if (w->stack) {
			d = w->stack;
			w->stack = d->next;
			w->active++;
			break;
		}
		if (!w->active) {
			w->finished = true;
			pthread_cond_broadcast(&w->qcv);
			break;
		}
		if (k->b && k->b->n) { /* about to idle: let the consumer have what we hold */
			pthread_mutex_unlock(&w->qmu);
			flush(k);
			pthread_mutex_lock(&w->qmu);
			continue;
		}
		pthread_cond_wait(&w->qcv, &w->qmu);
	}
	pthread_mutex_unlock(&w->qmu);
	return d;
}

static void done_dir(struct worker *k, struct dnode *d)
{
	struct walker *w = k->w;
	push_kids(k);
	pthread_mutex_lock(&w->qmu);
	if (!--w->active && !w->stack)
		pthread_cond_broadcast(&w->qcv);
	pthread_mutex_unlock(&w->qmu);
	dnode_put(d);
}

static void work(struct worker *k)
{
	struct dnode *d;
	while ((d = take_dir(k))) {
		read_dir(k, d);
		done_dir(k, d);
	}
	flush(k);
}

static void *worker_main(void *arg)
{
	struct worker *k = arg;
	struct walker *w = k->w;
	work(k);
	pthread_mutex_lock(&w->omu);
	w->producers--;
	pthread_cond_signal(&w->ocv);
	pthread_mutex_unlock(&w->omu);
	return NULL;
}

/*
 * The caller's thread in parallel mode: run the callbacks for every batch until all workers left.
 * Only this thread reads o->stop (a flag a signal handler may set), every STOP_POLL_MS at least.
 */
static int consume(struct walker *w)
{
	for (;;) {
		pthread_mutex_lock(&w->omu);
		while (!w->ohead && w->producers > 0) {
			struct timespec ts = du_wait_deadline(CLOCK_MONOTONIC, STOP_POLL_MS);
			pthread_cond_timedwait(&w->ocv, &w->omu, &ts);
			if (stop_asked(w->o)) {
				pthread_mutex_unlock(&w->omu);
				w->sink->stopped = true;
				return DU_ERR_INTERRUPTED;
			}
		}
		struct batch *b = w->ohead;
		if (b) {
			w->ohead = b->next;
			if (!w->ohead)
				w->otail = NULL;
			w->on--;
			pthread_cond_signal(&w->spacecv);
		}
		pthread_mutex_unlock(&w->omu);
		if (!b)
			return 0;
		int rc = deliver(w, b);
		batch_recycle(w, b);
		if (rc)
			return rc;
	}
}

static int auto_threads(int t)
{
	if (t <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		t = n < 1 ? 1 : n > MAX_AUTO_THREADS ? MAX_AUTO_THREADS : (int)n;
	}
	return t > MAX_THREADS ? MAX_THREADS : t;
}

static int scan_native(struct walker *w, struct du_scan_stats *st, struct du_err *err)
{
	const struct du_scan_opts *o = w->o;
	int nthreads = auto_threads(o->threads), started = 0, rc = 0;
	struct worker *ks = calloc((size_t)nthreads, sizeof(*ks));
	struct dnode *root = dnode_new(NULL, "", false);
	if (!ks || !root) {
		free(ks);
		free(root);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory scanning '%s'", w->base);
	}
	w->serial = nthreads == 1;
	w->fail_open = getenv("DU_SCAN_FAIL_OPEN");
	w->stack = root;
	pthread_mutex_init(&w->qmu, NULL);
	pthread_cond_init(&w->qcv, NULL);
	pthread_mutex_init(&w->omu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->ocv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&w->spacecv, NULL);

	for (int i = 0; i < nthreads; i++)
		ks[i].w = w;
	if (w->serial) {
		work(&ks[0]);
		rc = w->rc;
		started = 1;
	} else {
		w->producers = nthreads;
		for (; started < nthreads; started++) {
			if (pthread_create(&ks[started].tid, NULL, worker_main, &ks[started])) {
				pthread_mutex_lock(&w->omu);
				w->producers -= nthreads - started;
				pthread_mutex_unlock(&w->omu);
				break;
			}
		}
		if (!started) {
			rc = du_err_set(err, DU_ERR_INTERNAL, "cannot start scanner threads");
		} else {
			rc = consume(w);
			if (rc)
				set_abort(w);
			for (int i = 0; i < started; i++)
				pthread_join(ks[i].tid, NULL);
		}
	}

	for (int i = 0; i < started; i++) {
		st->skipped_ext += ks[i].skipped_ext;
		st->skipped_excluded += ks[i].skipped_excluded;
		st->warnings += ks[i].warnings;
		st->dirs += ks[i].dirs;
		batch_free(ks[i].b);
		for (struct dnode *d = ks[i].kids, *n; d; d = n) {
			n = d->next;
			dnode_put(d);
		}
	}
	for (struct dnode *d = w->stack, *n; d; d = n) {
		n = d->next;
		dnode_put(d);
	}
	for (struct batch *b = w->ohead, *n; b; b = n) {
		n = b->next;
		batch_free(b);
	}
	for (struct batch *b = w->freel, *n; b; b = n) {
		n = b->next;
		batch_free(b);
	}
	free(ks);
	pthread_cond_destroy(&w->spacecv);
	pthread_cond_destroy(&w->ocv);
	pthread_mutex_destroy(&w->omu);
	pthread_cond_destroy(&w->qcv);
	pthread_mutex_destroy(&w->qmu);
	if (!rc && atomic_load(&w->nomem))
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory scanning '%s'", w->base);
	return rc;
}

/* ---- find mode ---- */

struct findrun {
	const struct du_scan_opts *o;
	struct sink *sink;
	struct du_scan_stats *st;
	const char *prefix;
	size_t prefixlen;
	char *obuf;
	size_t olen, ocap;
	char ebuf[2048];
	size_t elen;
	uint64_t find_complaints;
};

/* "-315619200.5000000000" is tv_sec -315619200 plus 0.5 s: find prints sec and nsec apart. */
static bool parse_time(const char **pp, int64_t *ns)
{
	const char *p = *pp;
	char *end;
	errno = 0;
	long long sec = strtoll(p, &end, 10);
	if (end == p || errno)
		return false;
	int64_t frac = 0;
	int digits = 0;
	p = end;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*p - '0');
	}
	for (; digits < 9; digits++)
		frac *= 10;
	*ns = (int64_t)sec * 1000000000 + frac;
	*pp = p;
	return true;
}

static bool parse_u64(const char **pp, uint64_t *v)
{
	char *end;
	errno = 0;
	if (**pp < '0' || **pp > '9')
		return false;
	unsigned long long x = strtoull(*pp, &end, 10);
	if (errno)
		return false;
	*v = x;
	*pp = end;
	return true;
}

/*
 * One NUL-terminated record: "x<path>" pruned by an exclude glob, "d" a directory,
 * "f<size> <mtime> <ino> <dev> <path>" a regular file.
 */
static int find_record(struct findrun *f, const char *rec)
{
	if (rec[0] == 'x') {
		f->st->skipped_excluded++;
		return 0;
	}
	if (rec[0] == 'd' && !rec[1]) {
		f->st->dirs++;
		return 0;
	}
	struct du_scan_entry e = { 0 };
	const char *p = rec + 1;
	if (rec[0] != 'f' || !parse_u64(&p, &e.size) || *p++ != ' ' || !parse_time(&p, &e.mtime_ns) ||
	    *p++ != ' ' || !parse_u64(&p, &e.ino) || *p++ != ' ' || !parse_u64(&p, &e.dev) ||
	    *p++ != ' ' || strncmp(p, f->prefix, f->prefixlen) || !p[f->prefixlen]) {
		f->st->warnings++;
		du_warn("cannot parse the output of find: '%.200s'", rec);
		return 0;
	}
	e.path = p;
	e.rel = p + f->prefixlen;
	const char *slash = strrchr(e.rel, '/');
	if (!ext_ok(f->o->extensions, slash ? slash + 1 : e.rel)) {
		f->st->skipped_ext++;
		return 0;
	}
	return sink_put(f->sink, &e);
}

/* Read what find wrote to stdout; 0 at EOF (*eof set), else a callback's verdict. */
static int find_read_out(struct findrun *f, int fd, bool *eof, struct du_err *err)
{
	if (!du_array_grow(&f->obuf, &f->ocap, f->olen + 4096, 1))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory reading find's output");
	ssize_t n = read(fd, f->obuf + f->olen, f->ocap - f->olen);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0
			: du_err_sys(err, DU_ERR_IO, errno, "cannot read the output of find");
	if (n == 0) {
		*eof = true;
		if (f->olen) {
			f->st->warnings++;
			du_warn("find's output ended in the middle of a record");
			f->olen = 0;
		}
		return 0;
	}
	f->olen += (size_t)n;
	size_t start = 0;
	int rc = 0;
	for (char *z; !rc && (z = memchr(f->obuf + start, '\0', f->olen - start));) {
		rc = find_record(f, f->obuf + start);
		start = (size_t)(z - f->obuf) + 1;
	}
	memmove(f->obuf, f->obuf + start, f->olen - start);
	f->olen -= start;
	return rc;
}

static void find_complain(struct findrun *f, const char *line)
{
	if (!*line)
		return;
	f->st->warnings++;
	f->find_complaints++;
	du_warn("%s", line);
}

static void find_read_err(struct findrun *f, int fd, bool *eof)
{
	ssize_t n = read(fd, f->ebuf + f->elen, sizeof(f->ebuf) - 1 - f->elen);
	if (n < 0)
		return;
	if (n == 0) {
		*eof = true;
		f->ebuf[f->elen] = '\0';
		find_complain(f, f->ebuf);
		f->elen = 0;
		return;
	}
	f->elen += (size_t)n;
	f->ebuf[f->elen] = '\0';
	char *s = f->ebuf, *nl;
	while ((nl = strchr(s, '\n'))) {
		*nl = '\0';
		find_complain(f, s);
		s = nl + 1;
	}
	size_t left = f->elen - (size_t)(s - f->ebuf);
	if (left == sizeof(f->ebuf) - 1) { /* an endless line: report what we have */
		find_complain(f, s);
		left = 0;
	}
	memmove(f->ebuf, s, left);
	f->elen = left;
}

/*
 * find's argv: -H/-L ROOT -mindepth 1 [( -name G -o ... ) -prune -printf x.. -o]
 *              -type f -printf f.. -o -type d -printf d
 * -H: a symbolic link given as ROOT is followed, as the native walker's open() does.
 */
static char **find_argv(const struct du_scan_opts *o, const char *base)
{
	size_t ng = 0;
	for (char *const *g = o->exclude; g && *g; g++)
		ng++;
	char **av = calloc(24 + 3 * ng, sizeof(*av));
	if (!av)
		return NULL;
	size_t i = 0;
	av[i++] = "find";
	av[i++] = o->follow_symlinks ? "-L" : "-H";
	av[i++] = (char *)base;
	av[i++] = "-mindepth";
	av[i++] = "1";
	if (ng) {
		av[i++] = "(";
		for (size_t j = 0; j < ng; j++) {
			if (j)
				av[i++] = "-o";
			av[i++] = "-name";
			av[i++] = o->exclude[j];
		}
		av[i++] = ")";
		av[i++] = "-prune";
		av[i++] = "-printf";
		av[i++] = "x%p\\0";
		av[i++] = "-o";
	}
	av[i++] = "-type";
	av[i++] = "f";
	av[i++] = "-printf";
	av[i++] = "f%s %T@ %i %D %p\\0";
	av[i++] = "-o";
	av[i++] = "-type";
	av[i++] = "d";
	av[i++] = "-printf";
	av[i++] = "d\\0";
	av[i] = NULL;
	return av;
}

/* environ with LC_ALL=C, so find's number formats and pattern matching are the C locale's. */
static char **find_env(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LC_ALL=", 7))
			env[j++] = environ[i];
	env[j++] = "LC_ALL=C";
	env[j] = NULL;
	return env;
}

static int find_spawn(char **av, pid_t *pid, int *outfd, int *errfd, struct du_err *err)
{
	int op[2] = { -1, -1 }, ep[2] = { -1, -1 }, rc = 0, e;
	char **env = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dflt;

	if (pipe2(op, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
		rc = du_err_sys(err, DU_ERR_IO, errno, "cannot create a pipe for find");
		goto out_fds;
	}
	if (!(env = find_env())) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory starting find");
		goto out_fds;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	/* The tools may block SIGINT/SIGTERM for a signal thread: find must not inherit that. */
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dflt);
	/* Its own process group: Ctrl-C reaches us, we notice o->stop and end find ourselves. */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETPGROUP);
	e = posix_spawnp(pid, "find", &fa, &at, av, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (e) {
		rc = du_err_sys(err, DU_ERR_IO, e, "cannot run find");
		du_err_hint(err, "install findutils, or set use_find to false for the built-in walker");
	}
out_fds:
	free(env);
	if (op[1] >= 0)
		close(op[1]);
	if (ep[1] >= 0)
		close(ep[1]);
	if (rc) {
		if (op[0] >= 0)
			close(op[0]);
		if (ep[0] >= 0)
			close(ep[0]);
		return rc;
	}
	*outfd = op[0];
	*errfd = ep[0];
	return 0;
}

static int scan_find(const struct du_scan_opts *o, struct sink *sink, const char *base,
		     const char *prefix, struct du_scan_stats *st, struct du_err *err)
{
	struct findrun f = {
		.o = o, .sink = sink, .st = st, .prefix = prefix, .prefixlen = strlen(prefix),
		.ocap = 1 << 16,
	};
	int rc = 0, outfd = -1, errfd = -1, status = 0;
	bool out_eof = false, err_eof = false;
	pid_t pid = -1;
	char **av = find_argv(o, base);
	f.obuf = malloc(f.ocap);
	if (!av || !f.obuf) {
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory starting find");
		goto out;
	}
	if ((rc = find_spawn(av, &pid, &outfd, &errfd, err)))
		goto out;

	while (!out_eof || !err_eof) {
		if (stop_asked(o)) {
			sink->stopped = true;
			rc = DU_ERR_INTERRUPTED;
			break;
		}
		struct pollfd pf[2];
		nfds_t n = 0;
		if (!out_eof)
			pf[n++] = (struct pollfd){ .fd = outfd, .events = POLLIN };
		if (!err_eof)
			pf[n++] = (struct pollfd){ .fd = errfd, .events = POLLIN };
		int pr = poll(pf, n, 200); /* wake now and then to notice o->stop */
		if (pr < 0 && errno != EINTR) {
			rc = du_err_sys(err, DU_ERR_IO, errno, "cannot wait for find");
			break;
		}
		for (nfds_t i = 0; pr > 0 && i < n && !rc; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (pf[i].fd == outfd)
				rc = find_read_out(&f, outfd, &out_eof, err);
			else
				find_read_err(&f, errfd, &err_eof);
		}
		if (rc)
			break;
	}
	if (rc) /* stopped early: find has nothing more to tell */
		kill(pid, SIGTERM);
	close(outfd);
	close(errfd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!rc && stop_asked(o)) {
		sink->stopped = true;
		rc = DU_ERR_INTERRUPTED;
	} else if (!rc && WIFSIGNALED(status)) {
		rc = du_err_set(err, DU_ERR_IO, "find was killed by signal %d; the scan is incomplete",
				WTERMSIG(status));
	} else if (!rc && WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127)) {
		/* The shell convention for "could not execute": find never ran, so the scan found
		 * nothing rather than everything. posix_spawnp reports this itself only when the
		 * child shares our memory (glibc's clone); under valgrind or another libc it is this. */
		rc = du_err_set(err, DU_ERR_IO, "cannot run find (exit status %d); the scan is incomplete",
				WEXITSTATUS(status));
		du_err_hint(err, "install findutils, or set use_find to false for the built-in walker");
	} else if (!rc && WIFEXITED(status) && WEXITSTATUS(status)) {
		/* find exits 1 after "Permission denied": already counted. Otherwise say so once. */
		if (!f.find_complaints) {
			st->warnings++;
			du_warn("find exited with status %d", WEXITSTATUS(status));
		}
	}
out:
	free(f.obuf);
	free(av);
	return rc;
}

/* ---- entry point ---- */

int du_scan(const struct du_scan_opts *o, int (*cb)(void *arg, const struct du_scan_entry *e),
	    void *arg, struct du_scan_stats *st, struct du_err *err)
{
	struct du_scan_stats local;
	struct sink sink = { .o = o, .cb = cb, .arg = arg };
	char *base = NULL, *prefix = NULL;
	int rc = 0, rootfd = -1;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (!o || !o->root || !*o->root || !cb)
		return du_err_set(err, DU_ERR_INTERNAL, "du_scan: no root or no callback");

	/* Paths are "ROOT/rel": ROOT without trailing slashes; one find would not mistake for an option. */
	size_t len = strlen(o->root);
	while (len > 1 && o->root[len - 1] == '/')
		len--;
	bool dotslash = o->root[0] == '-' || o->root[0] == '(' || o->root[0] == ')' ||
			o->root[0] == '!' || o->root[0] == ',';
	if (asprintf(&base, "%s%.*s", dotslash ? "./" : "", (int)len, o->root) < 0)
		base = NULL;
	if (!base || asprintf(&prefix, "%s%s", base, strcmp(base, "/") ? "/" : "") < 0) {
		prefix = NULL;
		rc = du_err_set(err, DU_ERR_NOMEM, "out of memory");
		goto out;
	}

	rootfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		int e = errno;
		struct stat sb;
		if (e == ENOTDIR || (!stat(base, &sb) && !S_ISDIR(sb.st_mode)))
			rc = du_err_set(err, DU_ERR_CONFIG, "'%s' is not a directory", o->root);
		else
			rc = du_err_sys(err, DU_ERR_IO, e, "cannot open directory '%s'", o->root);
		goto out;
	}

	if (o->use_find) {
		close(rootfd);
		rootfd = -1;
		st->dirs = 1; /* find reports the directories below ROOT */
		rc = scan_find(o, &sink, base, prefix, st, err);
	} else {
		struct walker w = {
			.o = o, .sink = &sink, .rootfd = rootfd, .base = base, .prefix = prefix,
			.prefixlen = strlen(prefix),
		};
		rc = scan_native(&w, st, err);
	}
	if (sink.stopped || (!rc && stop_asked(o)))
		rc = du_err_set(err, DU_ERR_INTERRUPTED, "scan of '%s' interrupted", o->root);
out:
	st->files = sink.files;
	st->bytes = sink.bytes;
	if (rootfd >= 0)
		close(rootfd);
	free(base);
	free(prefix);
	return rc;
}

/* ---- keys and types ---- */

bool du_scan_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	while (s < end) {
		unsigned c = *s;
		if (c < 0x80) {
			s++;
			continue;
		}
		size_t n;
		unsigned cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false; /* continuation byte, 0xc0/0xc1 overlong lead, or > U+10FFFF */
		}
		if ((size_t)(end - s) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

int du_scan_key(const char *prefix, const char *rel, char *out, size_t outsz, struct du_err *err)
{
	if (!prefix)
		prefix = "";
	while (*prefix == '/')
		prefix++;
	size_t pl = strlen(prefix);
	while (pl && prefix[pl - 1] == '/')
		pl--;
	while (*rel == '/')
		rel++;
	size_t rl = strlen(rel);
	size_t n = pl && rl ? pl + 1 + rl : pl + rl;
	if (n > DU_SCAN_KEY_MAX)
		return du_err_set(err, DU_ERR_PARSE, DU_SCAN_KEY_ERR_LONG);
	if (!du_scan_utf8_valid(prefix, pl) || !du_scan_utf8_valid(rel, rl))
		return du_err_set(err, DU_ERR_PARSE, DU_SCAN_KEY_ERR_UTF8);
	if (!n)
		return du_err_set(err, DU_ERR_PARSE, "key is empty");
	if (n >= outsz)
		return du_err_set(err, DU_ERR_INTERNAL, "key buffer of %zu bytes is too small", outsz);
	memcpy(out, prefix, pl);
	if (pl && rl)
		out[pl++] = '/';
	memcpy(out + pl, rel, rl);
	out[n] = '\0';
	return DU_OK;
}

const char *du_file_type(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *dot = strrchr(slash ? slash + 1 : name, '.');
	if (!dot)
		return "UNKNOWN";
	dot++;
	if (!strcasecmp(dot, "wav"))
		return "WAV";
	if (!strcasecmp(dot, "jpg") || !strcasecmp(dot, "jpeg"))
		return "JPG";
	if (!strcasecmp(dot, "mp4") || !strcasecmp(dot, "mov") || !strcasecmp(dot, "avi"))
		return "VIDEO";
	return "UNKNOWN";
}
