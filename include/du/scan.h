/*
 * scan.h: stream the regular files of a directory tree, and derive their S3 keys.
 *
 * du_scan() walks ROOT and calls cb once per regular file that passes the filters. Nothing is
 * collected: a tree of any size costs the same memory. Two walkers yield the same set:
 *
 *   - native (default): openat/fdopendir/fstatat, iterative, a small pool of threads taking
 *     directories from a shared queue; file entries travel in batches through a bounded queue
 *     to the caller's thread, which alone runs the callbacks (the consumer needs no locking);
 *   - find (use_find): runs `find ROOT -type f` (no shell) and parses its NUL-separated output
 *     while it runs.
 *
 * The order of entries is not specified. An unreadable directory or file is a warning (logged,
 * counted in stats.warnings), never the end of the scan. Only regular files are yielded; FIFOs,
 * sockets and devices are skipped; symbolic links are skipped unless follow_symlinks (then
 * directory loops are detected and skipped with a warning).
 *
 * Directories nested so deep that their path below ROOT exceeds PATH_MAX cannot be opened by
 * the native walker (it opens each directory by that path): a warning each.
 *
 * Filters: extensions matches the part after the last '.' of the file name, case-insensitively;
 * exclude globs (fnmatch, no flags) are matched against every component of the path below ROOT,
 * so "._*" drops AppleDouble files and ".*" drops hidden files and whole hidden directories.
 * ROOT itself is never matched (a root under a hidden directory still scans).
 *
 *     static int on_file(void *arg, const struct du_scan_entry *e)
 *     {
 *             char key[DU_SCAN_KEY_MAX + 1];
 *             struct du_err kerr = {0};
 *             if (du_scan_key("C1", e->rel, key, sizeof(key), &kerr))
 *                     return record_bad_file(arg, e->path, kerr.msg);   // per-file failure
 *             return record_file(arg, e->path, key, e->size, du_file_type(e->rel));
 *     }
 *
 *     char *exts[] = { "wav", "jpg", "jpeg", NULL };
 *     struct du_scan_opts o = {
 *             .root = "/data/site1",
 *             .extensions = exts,
 *             .exclude = (char *const *)du_scan_default_exclude,
 *             .stop = &interrupted,
 *     };
 *     struct du_scan_stats st;
 *     if (du_scan(&o, on_file, ctx, &st, &err))
 *             return err.code;
 *
 * Test-only: the environment variable DU_SCAN_FAIL_OPEN=<name> makes the native walker fail to
 * open every directory whose name is <name> with EACCES, so the warning path can be tested as
 * root (where chmod 000 does not deny anything). Never set it in production.
 */
#ifndef DU_SCAN_H
#define DU_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "du/err.h"

/* One regular file. Pointers are borrowed: valid during the callback only. */
struct du_scan_entry {
	const char *path;  /* ROOT + "/" + rel (absolute when ROOT is) */
	const char *rel;   /* path relative to ROOT, '/'-separated, never starts with '/' */
	uint64_t size;
	int64_t mtime_ns;  /* modification time, ns since the epoch */
	uint64_t ino;
	uint64_t dev;
};

struct du_scan_opts {
	const char *root;
	bool use_find;                 /* run find(1) instead of the native walker */
	char *const *extensions;       /* NULL-terminated, lower case, no dot; NULL = accept all */
	char *const *exclude;          /* NULL-terminated fnmatch globs per path component;
	                                  NULL or empty = exclude nothing (see du_scan_default_exclude) */
	bool follow_symlinks;
	int threads;                   /* native walker threads; 0 = number of CPUs, at most 8 */
	void (*progress)(void *arg, uint64_t files, uint64_t bytes); /* every 10,000 files */
	void *progress_arg;
	const volatile int *stop;      /* non-zero: stop early (DU_ERR_INTERRUPTED) */
};

struct du_scan_stats {
	uint64_t files;            /* delivered to the callback */
	uint64_t bytes;            /* their total size */
	uint64_t skipped_ext;      /* regular files refused by the extension filter */
	uint64_t skipped_excluded; /* entries (files or whole directories) matched by an exclude glob */
	uint64_t warnings;         /* unreadable directories/files, loops, find's complaints */
	uint64_t dirs;             /* directories read (ROOT included) */
};

/* { "._*", ".*", NULL }: AppleDouble files and everything hidden, the config default. */
extern const char *const du_scan_default_exclude[];

#define DU_SCAN_PROGRESS_EVERY 10000

/*
 * Walk o->root and call cb(arg, entry) for every regular file that passes the filters; always
 * from the calling thread. A non-zero return from cb stops the scan and is returned as is (err
 * untouched). *o->stop becoming non-zero stops it with DU_ERR_INTERRUPTED. Root missing →
 * DU_ERR_IO, root not a directory → DU_ERR_CONFIG. st (may be NULL) is filled in every case.
 */
int du_scan(const struct du_scan_opts *o, int (*cb)(void *arg, const struct du_scan_entry *e),
	    void *arg, struct du_scan_stats *st, struct du_err *err);

/* S3 refuses keys longer than this many bytes. Size key buffers DU_SCAN_KEY_MAX + 1. */
#define DU_SCAN_KEY_MAX 1024
/* The exact messages (err->msg) of a refused key, stable for storing as a file's error. */
#define DU_SCAN_KEY_ERR_UTF8 "key is not valid UTF-8"
#define DU_SCAN_KEY_ERR_LONG "key is longer than 1024 bytes"

/*
 * out = prefix + "/" + rel, or rel when prefix is empty: no leading '/', no "//" at the join
 * (stray slashes at prefix's ends and rel's start are dropped). Fails with DU_ERR_PARSE and one
 * of the messages above when the key is longer than DU_SCAN_KEY_MAX bytes or not strictly valid
 * UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF); DU_ERR_INTERNAL when outsz
 * is too small for a valid key. out is written only on success.
 */
int du_scan_key(const char *prefix, const char *rel, char *out, size_t outsz, struct du_err *err);

/* Strictly valid UTF-8 (len bytes)? */
bool du_scan_utf8_valid(const char *s, size_t len);

/* "WAV" (.wav), "JPG" (.jpg .jpeg), "VIDEO" (.mp4 .mov .avi), else "UNKNOWN"; case-insensitive. */
const char *du_file_type(const char *name);

#endif
