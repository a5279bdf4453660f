/*
 * filemap: a read-only view of part of a file, mapped from the page cache, that survives the file
 * shrinking under it.
 *
 *     struct du_fmap m;
 *     if (du_fmap_open(&m, fd, off, len, &err) == DU_OK) {
 *         crc = du_cksum_crc(alg, crc, m.p, m.len);     // no copy: the page cache's own pages
 *         send(m.p, m.len);
 *         bool changed = du_fmap_damaged(&m);            // the file ended early meanwhile
 *         du_fmap_close(&m);
 *     }
 *
 * Reading a mapped page past the end of a file that was truncated raises SIGBUS, which would kill
 * the process. A view registers its range with the calling thread; du's SIGBUS handler maps a page
 * of zeros over a faulting page of the thread's own view and marks the view damaged, so the read
 * goes on and the caller fails the part as changed. A SIGBUS anywhere else keeps its default
 * action. Threads: one open view per thread at a time (du_fmap_open fails with DU_ERR_INTERNAL
 * for a second); the view is used only by the thread that opened it (libcurl's read callback runs
 * in the thread that calls curl_easy_perform).
 */
#ifndef DU_FILEMAP_H
#define DU_FILEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "du/err.h"

struct du_fmap {
	const unsigned char *p; /* the len bytes at off */
	size_t len;
	void *base;             /* the mapping: from off rounded down to a page */
	size_t maplen;
};

/* Map len (> 0) bytes of fd at off. Fails (DU_ERR_IO) where the file cannot be mapped; the caller
 * then reads it instead. */
int du_fmap_open(struct du_fmap *m, int fd, uint64_t off, size_t len, struct du_err *err);
/* The file shrank under the view: some bytes read as zeros. */
bool du_fmap_damaged(const struct du_fmap *m);
void du_fmap_close(struct du_fmap *m);

#endif
