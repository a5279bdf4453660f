#include "du/checksum.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "du/crypto.h"

static const struct {
	const char *name, *upper;
} names[] = {
	[DU_CK_AUTO] = { "auto", "AUTO" },
	[DU_CK_NONE] = { "none", "NONE" },
	[DU_CK_MD5] = { "md5", "MD5" },
	[DU_CK_CRC32] = { "crc32", "CRC32" },
	[DU_CK_CRC32C] = { "crc32c", "CRC32C" },
	[DU_CK_CRC64NVME] = { "crc64nvme", "CRC64NVME" },
	[DU_CK_SHA256] = { "sha256", "SHA256" },
};
#define NALG ((int)(sizeof(names) / sizeof(names[0])))

int du_cksum_parse(const char *name)
{
	for (int i = 0; name && i < NALG; i++)
		if (!strcasecmp(name, names[i].name))
			return i;
	return -1;
}

const char *du_cksum_name(enum du_cksum_alg alg)
{
	return (int)alg >= 0 && (int)alg < NALG ? names[alg].name : "?";
}

const char *du_cksum_upper(enum du_cksum_alg alg)
{
	return (int)alg >= 0 && (int)alg < NALG ? names[alg].upper : "?";
}

bool du_cksum_is_crc(enum du_cksum_alg alg)
{
	return alg == DU_CK_CRC32 || alg == DU_CK_CRC32C || alg == DU_CK_CRC64NVME;
}

/* Reflected polynomials, bit 63 (or 31) standing for x^0. */
#define POLY_CRC32 0xEDB88320u
#define POLY_CRC32C 0x82F63B78u
#define POLY_CRC64NVME 0x9A6C9329AC4BC9B5ull

static int width(enum du_cksum_alg alg)
{
	return alg == DU_CK_CRC64NVME ? 64 : 32;
}

static uint64_t poly(enum du_cksum_alg alg)
{
	switch (alg) {
	case DU_CK_CRC32: return POLY_CRC32;
	case DU_CK_CRC32C: return POLY_CRC32C;
	default: return POLY_CRC64NVME;
	}
}

/* ---- CRC64NVME: slice-by-8 ---- */

static pthread_once_t t64_once = PTHREAD_ONCE_INIT;
static uint64_t t64[8][256];

static void t64_init(void)
{
	for (int i = 0; i < 256; i++) {
		uint64_t c = (uint64_t)i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY_CRC64NVME : c >> 1;
		t64[0][i] = c;
	}
	for (int s = 1; s < 8; s++)
		for (int i = 0; i < 256; i++)
			t64[s][i] = (t64[s - 1][i] >> 8) ^ t64[0][t64[s - 1][i] & 0xff];
}

static uint64_t crc64nvme(uint64_t crc, const unsigned char *p, size_t len)
{
	pthread_once(&t64_once, t64_init);
	uint64_t c = ~crc;
	for (; len && ((uintptr_t)p & 7); len--)
		c = t64[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		c ^= w;
		c = t64[7][c & 0xff] ^ t64[6][(c >> 8) & 0xff] ^ t64[5][(c >> 16) & 0xff] ^
		    t64[4][(c >> 24) & 0xff] ^ t64[3][(c >> 32) & 0xff] ^ t64[2][(c >> 40) & 0xff] ^
		    t64[1][(c >> 48) & 0xff] ^ t64[0][c >> 56];
	}
	while (len--)
		c = t64[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

uint64_t du_cksum_crc(enum du_cksum_alg alg, uint64_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	switch (alg) {
	case DU_CK_CRC32C:
		/* crc32_iscsi takes an int length and the raw register (no final inversion). */
		while (len) {
			int n = len > (1u << 30) ? 1 << 30 : (int)len;
			crc = ~crc32_iscsi((unsigned char *)p, n, ~(uint32_t)crc) & 0xffffffffu;
			p += n;
			len -= (size_t)n;
		}
		return crc;
	case DU_CK_CRC32:
		return crc32_gzip_refl((uint32_t)crc, p, len);
	case DU_CK_CRC64NVME:
		return crc64nvme(crc, p, len);
	default:
		return 0;
	}
}

/* a * b modulo the polynomial, both reflected (the top bit is x^0). */
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t pl, int w)
{
	uint64_t top = (uint64_t)1 << (w - 1), r = 0;
	for (int i = 0; i < w; i++) {
		if (a & (top >> i))
			r ^= b;
		b = b & 1 ? (b >> 1) ^ pl : b >> 1;
	}
	return r;
}

/*
 * With an all-ones initial value and final xor, crc(a || b) = crc(a) * x^(8 len_b) ^ crc(b):
 * the two inversions cancel. x^(8 len_b) by squaring.
 */
uint64_t du_cksum_combine(enum du_cksum_alg alg, uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
	int w = width(alg);
	uint64_t pl = poly(alg), top = (uint64_t)1 << (w - 1);
	uint64_t e = top >> 8, xn = top; /* x^8, and 1 */
	for (; len_b; len_b >>= 1) {
		if (len_b & 1)
			xn = mulmod(xn, e, pl, w);
		e = mulmod(e, e, pl, w);
	}
	return mulmod(crc_a, xn, pl, w) ^ crc_b;
}

static int nbytes(enum du_cksum_alg alg)
{
	return alg == DU_CK_CRC64NVME ? 8 : 4;
}

void du_cksum_b64(enum du_cksum_alg alg, uint64_t crc, char out[DU_CKSUM_B64_LEN])
{
	unsigned char be[8];
	int n = nbytes(alg);
	for (int i = 0; i < n; i++)
		be[i] = (unsigned char)(crc >> (8 * (n - 1 - i)));
	du_base64(be, (size_t)n, out, DU_CKSUM_B64_LEN);
}

static int b64val(char ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+') return 62;
	if (ch == '/') return 63;
	return -1;
}

int du_cksum_from_b64(enum du_cksum_alg alg, const char *s, uint64_t *crc, struct du_err *err)
{
	int n = nbytes(alg);
	size_t want = (size_t)(n + 2) / 3 * 4;
	uint64_t bits = 0, v = 0;
	int nb = 0, got = 0;
	if (!s || strlen(s) != want)
		return du_err_set(err, DU_ERR_PARSE, "'%.60s' is not a base64 %s", s ? s : "", du_cksum_name(alg));
	for (size_t i = 0; i < want; i++) {
		if (s[i] == '=') {
			if (i < want - 2)
				return du_err_set(err, DU_ERR_PARSE, "'%.60s' is not a base64 %s", s, du_cksum_name(alg));
			continue;
		}
		int x = b64val(s[i]);
		if (x < 0)
			return du_err_set(err, DU_ERR_PARSE, "'%.60s' is not a base64 %s", s, du_cksum_name(alg));
		bits = bits << 6 | (uint64_t)x;
		nb += 6;
		if (nb >= 8) {
			nb -= 8;
			if (got < n)
				v = v << 8 | ((bits >> nb) & 0xff);
			got++;
		}
	}
	if (got != n)
		return du_err_set(err, DU_ERR_PARSE, "'%.60s' is not a base64 %s", s, du_cksum_name(alg));
	*crc = v;
	return DU_OK;
}

void du_cksum_buf_b64(enum du_cksum_alg alg, const void *buf, size_t len, char out[DU_CKSUM_B64_LEN])
{
	unsigned char md[DU_SHA256_LEN];
	switch (alg) {
	case DU_CK_MD5:
		du_md5(buf, len, md);
		du_base64(md, DU_MD5_LEN, out, DU_CKSUM_B64_LEN);
		break;
	case DU_CK_SHA256:
		du_sha256(buf, len, md);
		du_base64(md, DU_SHA256_LEN, out, DU_CKSUM_B64_LEN);
		break;
	case DU_CK_CRC32:
	case DU_CK_CRC32C:
	case DU_CK_CRC64NVME:
		du_cksum_b64(alg, du_cksum_crc(alg, 0, buf, len), out);
		break;
	default:
		out[0] = '\0';
	}
}

/* ---- a file's digest ---- */

int du_digest_init(struct du_digest *d, bool whole_md5, uint64_t part_size, int crc_alg)
{
	memset(d, 0, sizeof(*d));
	d->part_size = part_size;
	d->crc_alg = du_cksum_is_crc(crc_alg) ? crc_alg : DU_CK_NONE;
	d->crc = du_cksum_init(d->crc_alg);
	if ((whole_md5 && !(d->whole = du_md5_new())) ||
	    (part_size && (!(d->part = du_md5_new()) || !(d->comp = du_md5_new())))) {
		du_digest_abort(d);
		return DU_ERR_NOMEM;
	}
	return DU_OK;
}

/* The part being hashed ends: its md5 goes into the composite. */
static void end_part(struct du_digest *d, bool more)
{
	unsigned char md[DU_MD5_LEN];
	du_md5_final(d->part, md);
	d->part = NULL;
	du_md5_update(d->comp, md, DU_MD5_LEN);
	d->nparts++;
	d->in_part = 0;
	if (more && !(d->part = du_md5_new()))
		d->oom = true;
}

void du_digest_update(struct du_digest *d, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (d->oom)
		return;
	if (d->whole)
		du_md5_update(d->whole, p, len);
	if (d->crc_alg != DU_CK_NONE)
		d->crc = du_cksum_crc(d->crc_alg, d->crc, p, len);
	while (d->part_size && len) {
		size_t take = d->part_size - d->in_part < len ? (size_t)(d->part_size - d->in_part) : len;
		du_md5_update(d->part, p, take);
		d->in_part += take;
		p += take;
		len -= take;
		if (d->in_part == d->part_size)
			end_part(d, true);
		if (d->oom)
			return;
	}
}

int du_digest_final(struct du_digest *d, struct du_digest_out *out)
{
	unsigned char md[DU_MD5_LEN];
	memset(out, 0, sizeof(*out));
	if (d->oom) {
		du_digest_abort(d);
		return DU_ERR_NOMEM;
	}
	if (d->whole) {
		du_md5_final(d->whole, out->md5_raw);
		d->whole = NULL;
		du_hex(out->md5_raw, DU_MD5_LEN, out->md5);
	}
	if (d->part_size) {
		/* the last, shorter part; an empty file is one empty part */
		if (d->in_part || !d->nparts)
			end_part(d, false);
		du_md5_final(d->comp, md);
		d->comp = NULL;
		du_hex(md, DU_MD5_LEN, out->composite);
		snprintf(out->composite + 32, sizeof(out->composite) - 32, "-%d", d->nparts);
	}
	if (d->crc_alg != DU_CK_NONE)
		du_cksum_b64(d->crc_alg, d->crc, out->crc);
	du_digest_abort(d);
	return DU_OK;
}

void du_digest_abort(struct du_digest *d)
{
	unsigned char md[DU_MD5_LEN];
	if (d->whole)
		du_md5_final(d->whole, md);
	if (d->part)
		du_md5_final(d->part, md);
	if (d->comp)
		du_md5_final(d->comp, md);
	d->whole = d->part = d->comp = NULL;
}

int du_digest_file(const char *path, bool whole_md5, uint64_t part_size, int crc_alg, void *buf, size_t bufsz,
		   struct du_digest_out *out, struct du_err *err)
{
	struct du_digest d;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return du_err_sys(err, DU_ERR_IO, errno, "cannot open '%s'", path);
	if (du_digest_init(&d, whole_md5, part_size, crc_alg)) {
		close(fd);
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	}
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			du_digest_abort(&d);
			close(fd);
			return du_err_sys(err, DU_ERR_IO, e, "cannot read '%s'", path);
		}
		if (n == 0)
			break;
		du_digest_update(&d, buf, (size_t)n);
	}
	close(fd);
	if (du_digest_final(&d, out))
		return du_err_set(err, DU_ERR_NOMEM, "out of memory");
	return DU_OK;
}
