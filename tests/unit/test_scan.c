/*
 * test_scan: the streaming scanner (native walker, serial and parallel, and find mode) on real
 * trees made under mkdtemp, and S3 key derivation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "du/log.h"
#include "du/scan.h"

/* ---- trees ---- */

static char *mktree(void)
{
	char *d = du_test_tmpdir("scan");
	assert_non_null(d);
	return d;
}

static void rmtree(char *root)
{
	du_test_rmtree(root);
	free(root);
}

/* mkdir -p for the directories of rel, then write size bytes. */
static void put(const char *root, const char *rel, size_t size)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail_msg("create %s: %s", p, strerror(errno));
	static const char junk[4096];
	for (size_t left = size; left;) {
		size_t n = left < sizeof(junk) ? left : sizeof(junk);
		assert_int_equal(write(fd, junk, n), (ssize_t)n);
		left -= n;
	}
	close(fd);
}

static void mkdirs(const char *root, const char *rel)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s/x", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
}

static void link_to(const char *root, const char *target, const char *rel)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

/* ---- collecting what a scan yields ---- */

struct item {
	char *rel;
	uint64_t size, ino, dev;
	int64_t mtime_ns;
};

struct coll {
	const char *root;
	struct item *v;
	size_t n, cap;
	pthread_t caller;
	int wrong_thread, bad_path;
	size_t stop_after;      /* set *stopflag after this many (0 = never) */
	volatile int *stopflag;
	size_t fail_after;      /* return fail_rc after this many calls (0 = never) */
	int fail_rc;
	size_t calls;
	uint64_t progress_calls, progress_files[8], progress_bytes[8];
};

static int collect(void *arg, const struct du_scan_entry *e)
{
	struct coll *c = arg;
	c->calls++;
	if (!pthread_equal(pthread_self(), c->caller))
		c->wrong_thread++;
	char want[8192];
	snprintf(want, sizeof(want), "%s/%s", c->root, e->rel);
	if (strcmp(want, e->path) || e->rel[0] == '/' || strstr(e->rel, "//"))
		c->bad_path++;
	if (c->fail_after && c->calls == c->fail_after)
		return c->fail_rc;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		assert_non_null(c->v);
	}
	c->v[c->n++] = (struct item){ strdup(e->rel), e->size, e->ino, e->dev, e->mtime_ns };
	if (c->stop_after && c->n == c->stop_after)
		*c->stopflag = 1;
	return 0;
}

static void on_progress(void *arg, uint64_t files, uint64_t bytes)
{
	struct coll *c = arg;
	if (c->progress_calls < 8) {
		c->progress_files[c->progress_calls] = files;
		c->progress_bytes[c->progress_calls] = bytes;
	}
	c->progress_calls++;
}

static int by_rel(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->rel, ((const struct item *)b)->rel);
}

static void coll_sort(struct coll *c)
{
	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), by_rel);
}

static void coll_free(struct coll *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].rel);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* The three ways to walk: native serial, native parallel, find. */
enum mode { NATIVE1, NATIVE4, FIND, NMODES };
static const char *const mode_name[] = { "native/1", "native/4", "find" };

static void set_mode(struct du_scan_opts *o, enum mode m)
{
	o->use_find = m == FIND;
	o->threads = m == NATIVE4 ? 4 : 1;
}

static char *const default_excl[] = { "._*", ".*", NULL };
static char *const no_excl[] = { NULL };

static int run(struct du_scan_opts *o, struct coll *c, struct du_scan_stats *st, struct du_err *err)
{
	memset(c, 0, sizeof(*c));
	c->root = o->root;
	c->caller = pthread_self();
	int rc = du_scan(o, collect, c, st, err);
	coll_sort(c);
	assert_int_equal(c->wrong_thread, 0);
	assert_int_equal(c->bad_path, 0);
	return rc;
}

/* Assert the sorted rel set equals want (NULL-terminated, sorted by strcmp). */
static void expect_set(const struct coll *c, const char *const *want, const char *mode)
{
	size_t n = 0;
	while (want[n])
		n++;
	if (c->n != n) {
		for (size_t i = 0; i < c->n; i++)
			print_message("  got '%s'\n", c->v[i].rel);
		fail_msg("%s: %zu entries, want %zu", mode, c->n, n);
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(c->v[i].rel, want[i]))
			fail_msg("%s: entry %zu is '%s', want '%s'", mode, i, c->v[i].rel, want[i]);
}

static bool no_children_left(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* ---- tests ---- */

static void test_extension_filter(void **state)
{
	(void)state;
	char *root = mktree();
	put(root, "A.WAV", 3);
	put(root, "b.wav", 5);
	put(root, "c.Jpeg", 7);
	put(root, "x.txt", 1);
	put(root, "noext", 1);
	put(root, "wav", 1);
	put(root, "sub/d.wav.txt", 1);
	put(root, "sub/e.tar.wav", 11);
	char *exts[] = { "wav", "jpeg", NULL };
	static const char *const want[] = { "A.WAV", "b.wav", "c.Jpeg", "sub/e.tar.wav", NULL };
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root, .extensions = exts };
		set_mode(&o, m);
		struct coll c;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want, mode_name[m]);
		assert_int_equal(c.v[0].size, 3);
		assert_int_equal(st.files, 4);
		assert_int_equal(st.bytes, 3 + 5 + 7 + 11);
		assert_int_equal(st.skipped_ext, 4);
		assert_int_equal(st.warnings, 0);
		coll_free(&c);

		o.extensions = NULL; /* everything */
		assert_int_equal(run(&o, &c, &st, &err), 0);
		assert_int_equal(c.n, 8);
		assert_int_equal(st.skipped_ext, 0);
		coll_free(&c);
	}
	rmtree(root);
}

static void test_exclude_globs(void **state)
{
	(void)state;
	char *root = mktree();
	put(root, "a.wav", 1);
	put(root, "._a.wav", 1);
	put(root, ".hidden.wav", 1);
	put(root, ".hdir/in.wav", 1);
	put(root, ".hdir/deeper/in2.wav", 1);
	put(root, "sub/._b.wav", 1);
	put(root, "sub/b.wav", 1);
	put(root, "sub/._dir/c.wav", 1);
	static const char *const want_def[] = { "a.wav", "sub/b.wav", NULL };
	static const char *const want_all[] = { "._a.wav", ".hdir/deeper/in2.wav", ".hdir/in.wav",
						".hidden.wav", "a.wav", "sub/._b.wav",
						"sub/._dir/c.wav", "sub/b.wav", NULL };
	static const char *const want_apple[] = { ".hdir/deeper/in2.wav", ".hdir/in.wav",
						  ".hidden.wav", "a.wav", "sub/b.wav", NULL };
	char *const apple_only[] = { "._*", NULL };
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root, .exclude = default_excl };
		set_mode(&o, m);
		struct coll c;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want_def, mode_name[m]);
		/* ._a.wav, .hidden.wav, .hdir (as a whole), sub/._b.wav, sub/._dir (as a whole) */
		assert_int_equal(st.skipped_excluded, 5);
		coll_free(&c);

		o.exclude = (char *const *)du_scan_default_exclude;
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want_def, mode_name[m]);
		coll_free(&c);

		o.exclude = apple_only;
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want_apple, mode_name[m]);
		coll_free(&c);

		o.exclude = no_excl;
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want_all, mode_name[m]);
		assert_int_equal(st.skipped_excluded, 0);
		coll_free(&c);

		o.exclude = NULL;
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want_all, mode_name[m]);
		coll_free(&c);
	}
	rmtree(root);
}

/* A root under a hidden directory, given with trailing slashes, still scans. */
static void test_root_forms(void **state)
{
	(void)state;
	char *top = mktree();
	char root[4096], slashed[4200];
	snprintf(root, sizeof(root), "%s/.hidden root", top);
	mkdirs(top, ".hidden root");
	put(root, "x.wav", 2);
	snprintf(slashed, sizeof(slashed), "%s//", root);
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = slashed, .exclude = default_excl };
		set_mode(&o, m);
		struct coll c;
		struct du_err err = { 0 };
		memset(&c, 0, sizeof(c));
		c.root = root; /* paths are root + "/" + rel, without the extra slashes */
		c.caller = pthread_self();
		assert_int_equal(du_scan(&o, collect, &c, NULL, &err), 0);
		assert_int_equal(c.bad_path, 0);
		assert_int_equal(c.n, 1);
		assert_string_equal(c.v[0].rel, "x.wav");
		coll_free(&c);
	}
	/* A root that is a symbolic link to a directory is followed, in every mode. */
	char linked[4200];
	snprintf(linked, sizeof(linked), "%s/link", top);
	assert_int_equal(symlink(root, linked), 0);
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = linked };
		set_mode(&o, m);
		struct coll c;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, NULL, &err), 0);
		assert_int_equal(c.n, 1);
		assert_string_equal(c.v[0].rel, "x.wav");
		coll_free(&c);
	}
	rmtree(top);
}

static const char *const nasty[] = {
	"with space.wav",
	"dir with space/inner file.wav",
	"unicodé/ñandú 日本語.wav",
	"plus+percent%hash#q?amp&eq=.wav",
	"sym+%#?&=/x y+z.wav",
	"new\nline.wav",
	"dir\nnl/f.wav",
	"tab\there.wav",
	"back\\slash.wav",
	"quote'\"s.wav",
	"star*brack[et].wav",
	"-dash.wav",
	"emoji 😀.WAV",
	NULL,
};

static void test_nasty_names(void **state)
{
	(void)state;
	char *root = mktree();
	const char *sorted[32];
	size_t n = 0;
	for (; nasty[n]; n++) {
		put(root, nasty[n], n + 1);
		sorted[n] = nasty[n];
	}
	sorted[n] = NULL;
	for (size_t i = 0; i < n; i++) /* tiny insertion sort by strcmp */
		for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
			const char *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	char *exts[] = { "wav", NULL };
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root, .extensions = exts, .exclude = default_excl };
		set_mode(&o, m);
		struct coll c;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, sorted, mode_name[m]);
		for (size_t i = 0; i < c.n; i++) {
			size_t k = 0;
			while (strcmp(nasty[k], c.v[i].rel))
				k++;
			assert_int_equal(c.v[i].size, k + 1);
		}
		assert_int_equal(st.warnings, 0);
		coll_free(&c);
	}
	rmtree(root);
}

static void test_symlinks(void **state)
{
	(void)state;
	char *root = mktree();
	put(root, "f.wav", 4);
	put(root, "d/g.wav", 6);
	link_to(root, "f.wav", "l.wav");
	link_to(root, "d", "ld");
	link_to(root, "nowhere.wav", "dangling.wav");
	static const char *const want_plain[] = { "d/g.wav", "f.wav", NULL };
	static const char *const want_follow[] = { "d/g.wav", "f.wav", "l.wav", "ld/g.wav", NULL };
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root };
		set_mode(&o, m);
		struct coll c;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want_plain, mode_name[m]);
		assert_int_equal(st.warnings, 0);
		coll_free(&c);

		o.follow_symlinks = true;
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want_follow, mode_name[m]);
		assert_int_equal(c.v[2].size, 4); /* l.wav: the target's size */
		assert_int_equal(c.v[2].ino, c.v[1].ino);
		assert_int_equal(st.warnings, 0); /* a dangling link is not a warning */
		coll_free(&c);
	}
	rmtree(root);
}

static void test_symlink_loop(void **state)
{
	(void)state;
	char *root = mktree();
	put(root, "a/x.wav", 1);
	put(root, "a/b/y.wav", 1);
	link_to(root, "..", "a/b/up");       /* back to a: a loop */
	link_to(root, "../..", "a/b/top");   /* back to the root: a loop */
	static const char *const want[] = { "a/b/y.wav", "a/x.wav", NULL };
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root, .follow_symlinks = true };
		set_mode(&o, m);
		struct coll c;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want, mode_name[m]);
		assert_true(st.warnings >= 2);
		coll_free(&c);
	}
	assert_true(no_children_left());
	rmtree(root);
}

static void test_fifo_skipped(void **state)
{
	(void)state;
	char *root = mktree();
	put(root, "a.wav", 1);
	char p[4200];
	snprintf(p, sizeof(p), "%s/pipe.wav", root);
	assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/sub", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/pipe2.wav", root);
	assert_int_equal(mkfifo(p, 0644), 0);
	static const char *const want[] = { "a.wav", NULL };
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root };
		set_mode(&o, m);
		struct coll c;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want, mode_name[m]);
		assert_int_equal(st.warnings, 0);
		coll_free(&c);
	}
	rmtree(root);
}

/* The test-only hook stands in for chmod 000, which does not stop root. */
static void test_unreadable_dir_is_warning(void **state)
{
	(void)state;
	char *root = mktree();
	put(root, "a.wav", 1);
	put(root, "locked/b.wav", 1);
	put(root, "locked/deeper/c.wav", 1);
	put(root, "other/locked/d.wav", 1);
	put(root, "other/e.wav", 1);
	setenv("DU_SCAN_FAIL_OPEN", "locked", 1);
	static const char *const want[] = { "a.wav", "other/e.wav", NULL };
	for (int m = NATIVE1; m <= NATIVE4; m++) {
		struct du_scan_opts o = { .root = root };
		set_mode(&o, m);
		struct coll c;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c, &st, &err), 0);
		expect_set(&c, want, mode_name[m]);
		assert_int_equal(st.warnings, 2);
		coll_free(&c);
	}
	unsetenv("DU_SCAN_FAIL_OPEN");

	/* Real permissions, when they apply (not root): both modes warn and go on. */
	if (geteuid() != 0) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/locked", root);
		assert_int_equal(chmod(p, 0), 0);
		static const char *const want2[] = { "a.wav", "other/e.wav", "other/locked/d.wav",
						     NULL };
		for (int m = 0; m < NMODES; m++) {
			struct du_scan_opts o = { .root = root };
			set_mode(&o, m);
			struct coll c;
			struct du_scan_stats st;
			struct du_err err = { 0 };
			assert_int_equal(run(&o, &c, &st, &err), 0);
			expect_set(&c, want2, mode_name[m]);
			assert_true(st.warnings >= 1);
			coll_free(&c);
		}
		chmod(p, 0755);
	}
	rmtree(root);
}

/* A few thousand files with every awkward name: all walkers agree on rel, size, mtime, ino, dev. */
static void test_native_and_find_agree(void **state)
{
	(void)state;
	char *root = mktree();
	char rel[1024];
	int k = 0;
	for (int d = 0; d < 40; d++) {
		for (int f = 0; f < 80; f++, k++) {
			const char *nm = nasty[k % 13];
			const char *base = strrchr(nm, '/') ? strrchr(nm, '/') + 1 : nm;
			snprintf(rel, sizeof(rel), "lvl%d/%s%d/%s %d%s", d % 5,
				 d % 3 ? "sub " : "._sub", d, f % 7 ? "" : "._", f, base);
			put(root, rel, (size_t)(k % 97));
		}
		snprintf(rel, sizeof(rel), "lvl%d/.hid%d/z.wav", d % 5, d);
		put(root, rel, 1);
		snprintf(rel, sizeof(rel), "lvl%d/skip%d.txt", d % 5, d);
		put(root, rel, 1);
	}
	char *exts[] = { "wav", "jpg", NULL };
	struct coll c[NMODES];
	struct du_scan_stats st[NMODES];
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root, .extensions = exts, .exclude = default_excl };
		set_mode(&o, m);
		struct du_err err = { 0 };
		assert_int_equal(run(&o, &c[m], &st[m], &err), 0);
		assert_true(c[m].n > 1500);
	}
	for (int m = 1; m < NMODES; m++) {
		assert_int_equal(c[m].n, c[0].n);
		for (size_t i = 0; i < c[0].n; i++) {
			assert_string_equal(c[m].v[i].rel, c[0].v[i].rel);
			assert_int_equal(c[m].v[i].size, c[0].v[i].size);
			assert_int_equal(c[m].v[i].mtime_ns, c[0].v[i].mtime_ns);
			assert_int_equal(c[m].v[i].ino, c[0].v[i].ino);
			assert_int_equal(c[m].v[i].dev, c[0].v[i].dev);
		}
		assert_int_equal(st[m].files, st[0].files);
		assert_int_equal(st[m].bytes, st[0].bytes);
		assert_int_equal(st[m].skipped_ext, st[0].skipped_ext);
		assert_int_equal(st[m].skipped_excluded, st[0].skipped_excluded);
		assert_int_equal(st[m].warnings, 0);
	}
	for (int m = 1; m < NMODES; m++)
		assert_int_equal(st[m].dirs, st[NATIVE1].dirs);
	assert_int_equal(st[NATIVE1].dirs, 1 + 5 + 40 - 14); /* root, lvlN, the non-._ sub dirs */
	for (size_t i = 0; i < c[0].n; i++) /* nothing hidden came through */
		assert_null(strstr(c[0].v[i].rel, "/."));
	for (int m = 0; m < NMODES; m++)
		coll_free(&c[m]);
	rmtree(root);
}

static void test_progress_every_10000(void **state)
{
	(void)state;
	char *root = mktree();
	char rel[256];
	for (int i = 0; i < 25000; i++) {
		snprintf(rel, sizeof(rel), "d%02d/f%05d.wav", i % 25, i);
		put(root, rel, i % 2);
	}
	for (int m = 0; m < NMODES; m++) {
		struct coll c;
		struct du_scan_opts o = { .root = root, .progress = on_progress, .progress_arg = &c };
		set_mode(&o, m);
		struct du_scan_stats st;
		struct du_err err = { 0 };
		memset(&c, 0, sizeof(c));
		c.root = root;
		c.caller = pthread_self();
		assert_int_equal(du_scan(&o, collect, &c, &st, &err), 0);
		assert_int_equal(c.n, 25000);
		assert_int_equal(st.files, 25000);
		assert_int_equal(st.bytes, 12500);
		assert_int_equal(st.dirs, 26);
		assert_int_equal(c.progress_calls, 2);
		assert_int_equal(c.progress_files[0], 10000);
		assert_int_equal(c.progress_files[1], 20000);
		assert_true(c.progress_bytes[0] <= 10000);
		coll_free(&c);
	}
	rmtree(root);
}

static void make_many(const char *root, int n)
{
	char rel[256];
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "d%d/f%d.wav", i % 20, i);
		put(root, rel, 1);
	}
}

static void test_stop_flag(void **state)
{
	(void)state;
	char *root = mktree();
	make_many(root, 3000);
	for (int m = 0; m < NMODES; m++) {
		volatile int stop = 0;
		struct du_scan_opts o = { .root = root, .stop = (const volatile int *)&stop };
		set_mode(&o, m);
		struct coll c;
		memset(&c, 0, sizeof(c));
		c.root = root;
		c.caller = pthread_self();
		c.stop_after = 5;
		c.stopflag = (int *)&stop;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(du_scan(&o, collect, &c, &st, &err), DU_ERR_INTERRUPTED);
		assert_int_equal(err.code, DU_ERR_INTERRUPTED);
		assert_int_equal(c.n, 5);
		assert_int_equal(st.files, 5);
		coll_free(&c);

		/* Set before the start: nothing at all. */
		stop = 1;
		memset(&c, 0, sizeof(c));
		c.root = root;
		c.caller = pthread_self();
		assert_int_equal(du_scan(&o, collect, &c, &st, &err), DU_ERR_INTERRUPTED);
		assert_int_equal(c.n, 0);
		coll_free(&c);

		/* Nothing passes the filter, so no entry ever reaches the callback: still stops. */
		char *none[] = { "none", NULL };
		o.extensions = none;
		memset(&c, 0, sizeof(c));
		c.root = root;
		c.caller = pthread_self();
		assert_int_equal(du_scan(&o, collect, &c, &st, &err), DU_ERR_INTERRUPTED);
		assert_int_equal(c.n, 0);
		coll_free(&c);
	}
	assert_true(no_children_left());
	rmtree(root);
}

static void test_callback_stops(void **state)
{
	(void)state;
	char *root = mktree();
	make_many(root, 3000);
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { .root = root };
		set_mode(&o, m);
		struct coll c;
		memset(&c, 0, sizeof(c));
		c.root = root;
		c.caller = pthread_self();
		c.fail_after = 3;
		c.fail_rc = 42;
		struct du_scan_stats st;
		struct du_err err = { 0 };
		assert_int_equal(du_scan(&o, collect, &c, &st, &err), 42);
		assert_int_equal(err.code, 0); /* the callback's own verdict, untouched */
		assert_int_equal(c.calls, 3);
		assert_int_equal(st.files, 2);
		coll_free(&c);
	}
	assert_true(no_children_left());
	rmtree(root);
}

/* SIGKILL our child named find, as if something else had killed it. */
static int kill_find(void *arg, const struct du_scan_entry *e)
{
	int *killed = arg;
	(void)e;
	if (*killed)
		return 0;
	DIR *proc = opendir("/proc");
	assert_non_null(proc);
	for (struct dirent *de; (de = readdir(proc));) {
		char p[300], buf[512];
		snprintf(p, sizeof(p), "/proc/%s/stat", de->d_name);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *close_paren = strrchr(buf, ')');
		int ppid = 0;
		if (strstr(buf, "(find)") && close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 &&
		    ppid == getpid()) {
			kill(atoi(de->d_name), SIGKILL);
			*killed = 1;
		}
	}
	closedir(proc);
	return 0;
}

/* find killed by someone else: the scan is incomplete, which is an error, not a warning. */
static void test_find_killed(void **state)
{
	(void)state;
	char *root = mktree();
	make_many(root, 3000); /* more output than a pipe holds: find is still running */
	int killed = 0;
	struct du_scan_opts o = { .root = root, .use_find = true };
	struct du_err err = { 0 };
	assert_int_equal(du_scan(&o, kill_find, &killed, NULL, &err), DU_ERR_IO);
	assert_int_equal(killed, 1);
	assert_non_null(strstr(err.msg, "killed by signal 9"));
	assert_true(no_children_left());
	rmtree(root);
}

static int never(void *arg, const struct du_scan_entry *e)
{
	(void)arg, (void)e;
	return 1;
}

static void test_root_errors(void **state)
{
	(void)state;
	char *root = mktree();
	char p[4200];
	put(root, "file.wav", 1);
	for (int m = 0; m < NMODES; m++) {
		struct du_scan_opts o = { 0 };
		set_mode(&o, m);
		struct du_err err = { 0 };
		snprintf(p, sizeof(p), "%s/missing", root);
		o.root = p;
		assert_int_equal(du_scan(&o, never, NULL, NULL, &err), DU_ERR_IO);
		assert_non_null(strstr(err.msg, "missing"));
		snprintf(p, sizeof(p), "%s/file.wav", root);
		assert_int_equal(du_scan(&o, never, NULL, NULL, &err), DU_ERR_CONFIG);
		assert_non_null(strstr(err.msg, "not a directory"));
	}

	/* find mode without a find: an error naming it, with a hint, and no child left behind. */
	char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", "/nonexistent", 1);
	struct du_scan_opts o = { .root = root, .use_find = true };
	struct du_err err = { 0 };
	int rc = du_scan(&o, never, NULL, NULL, &err);
	setenv("PATH", path, 1);
	free(path);
	assert_int_equal(rc, DU_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot run find"));
	assert_true(err.hint[0] != '\0');
	assert_true(no_children_left());
	rmtree(root);
}

static void key_ok(const char *prefix, const char *rel, const char *want)
{
	char out[DU_SCAN_KEY_MAX + 1];
	struct du_err err = { 0 };
	if (du_scan_key(prefix, rel, out, sizeof(out), &err))
		fail_msg("key('%s', '%s'): %s", prefix, rel, err.msg);
	assert_string_equal(out, want);
}

static void key_bad(const char *prefix, const char *rel, const char *msg)
{
	char out[DU_SCAN_KEY_MAX + 1] = "untouched";
	struct du_err err = { 0 };
	if (du_scan_key(prefix, rel, out, sizeof(out), &err) != DU_ERR_PARSE)
		fail_msg("key('%s', '%.40s') accepted or failed otherwise: %s", prefix, rel, err.msg);
	assert_string_equal(err.msg, msg);
	assert_string_equal(out, "untouched");
}

static void test_keys(void **state)
{
	(void)state;
	key_ok("C1", "a/b.wav", "C1/a/b.wav");
	key_ok("site/C1", "x.wav", "site/C1/x.wav");
	key_ok("", "a/b.wav", "a/b.wav");
	key_ok("C1/", "/x.wav", "C1/x.wav");
	key_ok("/C1//", "//x.wav", "C1/x.wav");
	key_ok("/", "x.wav", "x.wav");
	key_ok("C1", "ñandú 日本語 😀.wav", "C1/ñandú 日本語 😀.wav");
	key_ok("C1", "plus+percent%hash#q?amp&eq=.wav", "C1/plus+percent%hash#q?amp&eq=.wav");

	key_bad("C1", "\xff.wav", DU_SCAN_KEY_ERR_UTF8);
	key_bad("C1", "a\x80.wav", DU_SCAN_KEY_ERR_UTF8);           /* lone continuation */
	key_bad("C1", "\xc0\xaf.wav", DU_SCAN_KEY_ERR_UTF8);        /* overlong '/' */
	key_bad("C1", "\xe0\x80\xaf.wav", DU_SCAN_KEY_ERR_UTF8);    /* overlong, 3 bytes */
	key_bad("C1", "\xf0\x80\x80\xaf.wav", DU_SCAN_KEY_ERR_UTF8); /* overlong, 4 bytes */
	key_bad("C1", "\xed\xa0\x80.wav", DU_SCAN_KEY_ERR_UTF8);    /* surrogate U+D800 */
	key_bad("C1", "\xf4\x90\x80\x80.wav", DU_SCAN_KEY_ERR_UTF8); /* U+110000 */
	key_bad("C1", "\xf5\x80\x80\x80", DU_SCAN_KEY_ERR_UTF8);
	key_bad("C1", "x\xe2\x82", DU_SCAN_KEY_ERR_UTF8);           /* truncated at the end */
	key_bad("\xff", "x.wav", DU_SCAN_KEY_ERR_UTF8);
	key_ok("C1", "\xf4\x8f\xbf\xbf", "C1/\xf4\x8f\xbf\xbf");    /* U+10FFFF is fine */
	key_ok("C1", "\xed\x9f\xbf", "C1/\xed\x9f\xbf");            /* U+D7FF is fine */

	/* 1,024 bytes in all is the most S3 takes. */
	char rel[1100];
	memset(rel, 'r', sizeof(rel));
	rel[1024 - 3] = '\0'; /* "C1/" + 1,021 */
	char out[DU_SCAN_KEY_MAX + 1];
	struct du_err err = { 0 };
	assert_int_equal(du_scan_key("C1", rel, out, sizeof(out), &err), 0);
	assert_int_equal(strlen(out), 1024);
	rel[1024 - 3] = 'r';
	rel[1025 - 3] = '\0';
	key_bad("C1", rel, DU_SCAN_KEY_ERR_LONG);
	memset(rel, 'r', sizeof(rel));
	rel[1025] = '\0';
	key_bad("", rel, DU_SCAN_KEY_ERR_LONG);
	rel[1024] = '\0';
	assert_int_equal(du_scan_key("", rel, out, sizeof(out), &err), 0);
	/* A buffer too small is the caller's bug, not the file's. */
	assert_int_equal(du_scan_key("C1", "abc", out, 6, &err), DU_ERR_INTERNAL);
	assert_int_equal(du_scan_key("C1", "abc", out, 7, &err), 0);
	assert_string_equal(out, "C1/abc");
	key_bad("", "", "key is empty");

	/* The prefix C1 is a whole path component: its keys never fall under C10/. */
	assert_int_equal(du_scan_key("C1", "0/x.wav", out, sizeof(out), &err), 0);
	assert_string_equal(out, "C1/0/x.wav");
}

static void test_file_types(void **state)
{
	(void)state;
	assert_string_equal(du_file_type("a.wav"), "WAV");
	assert_string_equal(du_file_type("dir.x/A.WAV"), "WAV");
	assert_string_equal(du_file_type("a.jpg"), "JPG");
	assert_string_equal(du_file_type("a.JPEG"), "JPG");
	assert_string_equal(du_file_type("a.Jpeg"), "JPG");
	assert_string_equal(du_file_type("a.mp4"), "VIDEO");
	assert_string_equal(du_file_type("a.MOV"), "VIDEO");
	assert_string_equal(du_file_type("a.avi"), "VIDEO");
	assert_string_equal(du_file_type("a.txt"), "UNKNOWN");
	assert_string_equal(du_file_type("wav"), "UNKNOWN");
	assert_string_equal(du_file_type("x.wav/noext"), "UNKNOWN");
	assert_string_equal(du_file_type("a.wav.gz"), "UNKNOWN");
	assert_string_equal(du_file_type(""), "UNKNOWN");
}

int main(void)
{
	du_log_init("test_scan");
	du_log_set_level(DU_LOG_ERROR); /* the warnings are expected; the counters are asserted */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extension_filter),
		cmocka_unit_test(test_exclude_globs),
		cmocka_unit_test(test_root_forms),
		cmocka_unit_test(test_nasty_names),
		cmocka_unit_test(test_symlinks),
		cmocka_unit_test(test_symlink_loop),
		cmocka_unit_test(test_fifo_skipped),
		cmocka_unit_test(test_unreadable_dir_is_warning),
		cmocka_unit_test(test_native_and_find_agree),
		cmocka_unit_test(test_progress_every_10000),
		cmocka_unit_test(test_stop_flag),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_find_killed),
		cmocka_unit_test(test_root_errors),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_file_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
