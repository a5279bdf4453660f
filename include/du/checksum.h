/*
 * checksum.h: the object checksums S3 verifies (x-amz-checksum-*), and their S3 forms.
 *
 *     uint64_t v = du_cksum_init(DU_CK_CRC32C);
 *     v = du_cksum_crc(DU_CK_CRC32C, v, part1, n1);      // running value, fed in pieces
 *     v = du_cksum_crc(DU_CK_CRC32C, v, part2, n2);
 *     char b64[DU_CKSUM_B64_LEN];
 *     du_cksum_b64(DU_CK_CRC32C, v, b64);                // "yZRlqg==" for x-amz-checksum-crc32c
 *
 * Parts hashed by different workers are joined without reading them again:
 *     whole = du_cksum_combine(DU_CK_CRC32C, crc_a, crc_b, len_b);   // crc(a || b)
 *
 * CRC32C and CRC32 run on ISA-L (libisal: SSE4.2/PCLMULQDQ/AVX-512 paths, many GB/s a core).
 * CRC64NVME (S3's name for the NVMe CRC-64, reflected polynomial 0x9A6C9329AC4BC9B5) is not in
 * ISA-L 2.30: du computes it with slice-by-8 tables of its own (about 1-2 GB/s a core), so it is
 * offered but never chosen by default. SHA-256 and MD5 are crypto.h's (OpenSSL).
 * A value is the CRC as an integer (the form the standard check values use); S3 sends the
 * big-endian bytes in base64. Everything here is pure and thread-safe.
 */
#ifndef DU_CHECKSUM_H
#define DU_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "du/err.h"

enum du_cksum_alg {
	DU_CK_AUTO = 0,    /* setting only: CRC32C where the server verifies it, else MD5 */
	DU_CK_NONE,        /* setting only: send no checksum at all (unsafe) */
	DU_CK_MD5,         /* Content-MD5 per request; multipart: S3's composite ETag */
	DU_CK_CRC32,
	DU_CK_CRC32C,
	DU_CK_CRC64NVME,
	DU_CK_SHA256,
};

/* base64 of 32 bytes (SHA-256) + NUL, and room for a "-N" composite suffix */
#define DU_CKSUM_B64_LEN 56

/* "crc32c" -> DU_CK_CRC32C ("auto", "none", "md5", "crc32", "crc64nvme", "sha256");
 * -1 when unknown. Case-insensitive. */
int du_cksum_parse(const char *name);
/* "crc32c": lower-case name as in x-amz-checksum-crc32c; "auto"/"none"/"md5" for the others. */
const char *du_cksum_name(enum du_cksum_alg alg);
/* "CRC32C": the form of x-amz-checksum-algorithm and of the Checksum<ALG> XML elements. */
const char *du_cksum_upper(enum du_cksum_alg alg);
/* True for the CRCs, whose part values combine into the whole object's (FULL_OBJECT). */
bool du_cksum_is_crc(enum du_cksum_alg alg);

/* Running CRC: start from du_cksum_init(alg) (0 for all three), feed pieces in order. */
static inline uint64_t du_cksum_init(enum du_cksum_alg alg) { (void)alg; return 0; }
uint64_t du_cksum_crc(enum du_cksum_alg alg, uint64_t crc, const void *buf, size_t len);
/* crc(a || b) from crc(a), crc(b) and the length of b, in O(log len_b). */
uint64_t du_cksum_combine(enum du_cksum_alg alg, uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

/* Base64 of the CRC's big-endian bytes (4 for CRC32/CRC32C, 8 for CRC64NVME). */
void du_cksum_b64(enum du_cksum_alg alg, uint64_t crc, char out[DU_CKSUM_B64_LEN]);
/* Inverse of du_cksum_b64; DU_ERR_PARSE when s is not one. */
int du_cksum_from_b64(enum du_cksum_alg alg, const char *s, uint64_t *crc, struct du_err *err);

/* Checksum of one buffer in S3's base64 form, for any algorithm but auto/none. */
void du_cksum_buf_b64(enum du_cksum_alg alg, const void *buf, size_t len, char out[DU_CKSUM_B64_LEN]);

/*
 * A file's digest as S3 states it, in one streaming pass: the body's MD5 (a single PUT's ETag),
 * the composite of its parts' MD5s at a part size (a multipart ETag, "md5(part md5s)-N"), and a
 * CRC (an x-amz-checksum FULL_OBJECT value). The upload's check against a listed object and
 * du-master verify compute every digest here.
 *
 *     struct du_digest d;
 *     if (du_digest_init(&d, true, part_size, DU_CK_NONE)) return DU_ERR_NOMEM;
 *     while ((n = read(...)) > 0)
 *         du_digest_update(&d, buf, n);      // any piece sizes; parts are cut here
 *     struct du_digest_out out;
 *     if (du_digest_final(&d, &out)) ...     // out.md5, out.composite, out.crc
 *
 * Not thread-safe: one digest belongs to one thread.
 */
struct du_md5_ctx;
struct du_digest {
	struct du_md5_ctx *whole, *part, *comp;
	uint64_t part_size, in_part;
	int crc_alg;                /* DU_CK_NONE: no CRC */
	uint64_t crc;
	int nparts;
	bool oom;
};
struct du_digest_out {
	unsigned char md5_raw[16];
	char md5[33];               /* "" when not asked */
	char composite[48];         /* "hex-N"; "" when no part size */
	char crc[DU_CKSUM_B64_LEN]; /* base64; "" when no CRC */
};
/* What to compute: the whole MD5, the composite at part_size (0: none), a CRC (DU_CK_NONE: none). */
int du_digest_init(struct du_digest *d, bool whole_md5, uint64_t part_size, int crc_alg);
void du_digest_update(struct du_digest *d, const void *buf, size_t len);
/* The digests; the digest is done with after this (DU_ERR_NOMEM when memory ran out on the way). */
int du_digest_final(struct du_digest *d, struct du_digest_out *out);
/* Drop a digest without finishing it. */
void du_digest_abort(struct du_digest *d);
/* The digest of the file at path, read through buf (bufsz bytes): "cannot open/read 'path'". */
int du_digest_file(const char *path, bool whole_md5, uint64_t part_size, int crc_alg, void *buf, size_t bufsz,
		   struct du_digest_out *out, struct du_err *err);

#endif
