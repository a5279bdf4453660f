/*
 * suspect.h: recordings that are probably broken, told from a file's first bytes and its size:
 * a 0-byte media file; a WAV whose header is zeros (a recorder whose battery died leaves a
 * full-size file of zeros) or whose RIFF header says another size than the file has; a JPEG
 * that does not start with an image (FF D8). Such files are still uploaded by default (nothing is
 * lost) and their rows say why (file_uploads.suspect); suspect_policy says otherwise.
 *
 *     unsigned char head[DU_SUSPECT_HEAD];
 *     size_t n = pread(fd, head, sizeof(head), 0);
 *     char why[96];
 *     if (du_suspect(path, head, n, size, why, sizeof(why))) ... // "WAV header is zeros"
 *
 * Pure; thread-safe.
 */
#ifndef DU_SUSPECT_H
#define DU_SUSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DU_SUSPECT_HEAD 64          /* bytes of a file's start du_suspect looks at */

enum du_suspect_policy { DU_SUSPECT_UPLOAD = 0, DU_SUSPECT_SKIP, DU_SUSPECT_FAIL };

/* Is the file (named name, size bytes, starting with head[0..n)) a suspect recording? The
 * reason in why, and true; false when it looks sound (or is not a kind du checks). */
bool du_suspect(const char *name, const unsigned char *head, size_t n, uint64_t size, char *why, size_t whysz);

#endif
