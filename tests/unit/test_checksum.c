/*
 * Unit tests for checksum.c: the published check values (CRC of "123456789", from the CRC
 * catalogue: CRC-32/ISCSI, CRC-32/ISO-HDLC, CRC-64/NVME), the base64 forms the AWS SDKs' flexible
 * checksum tests use for "Hello world", and combine = whole at every split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "du/checksum.h"
#include "du/crypto.h"

static const char check[] = "123456789";

static void test_check_values(void **state)
{
	(void)state;
	assert_true(du_cksum_crc(DU_CK_CRC32C, 0, check, 9) == 0xE3069283u);
	assert_true(du_cksum_crc(DU_CK_CRC32, 0, check, 9) == 0xCBF43926u);
	assert_true(du_cksum_crc(DU_CK_CRC64NVME, 0, check, 9) == 0xAE8B14860A799888ull);
	/* the empty input is 0 in all three */
	assert_true(du_cksum_crc(DU_CK_CRC32C, 0, "", 0) == 0);
	assert_true(du_cksum_crc(DU_CK_CRC64NVME, 0, "", 0) == 0);
}

static void test_b64_forms(void **state)
{
	(void)state;
	static const struct {
		enum du_cksum_alg alg;
		const char *in, *b64;
	} v[] = {
		{ DU_CK_CRC32C, "123456789", "4waSgw==" },
		{ DU_CK_CRC32, "123456789", "y/Q5Jg==" },
		{ DU_CK_CRC64NVME, "123456789", "rosUhgp5mIg=" },
		{ DU_CK_SHA256, "123456789", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=" },
		{ DU_CK_MD5, "123456789", "JfnnlDI7RTiF9RgfG2JNCw==" },
		{ DU_CK_CRC32, "Hello world", "i9aeUg==" },
		{ DU_CK_CRC32C, "Hello world", "crUfeA==" },
		{ DU_CK_CRC64NVME, "Hello world", "OOJZ0D8xKts=" },
		{ DU_CK_SHA256, "Hello world", "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=" },
		{ DU_CK_CRC32C, "", "AAAAAA==" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char b64[DU_CKSUM_B64_LEN];
		du_cksum_buf_b64(v[i].alg, v[i].in, strlen(v[i].in), b64);
		assert_string_equal(b64, v[i].b64);
		if (du_cksum_is_crc(v[i].alg)) {
			uint64_t back = 1;
			struct du_err err = { 0 };
			assert_int_equal(du_cksum_from_b64(v[i].alg, b64, &back, &err), DU_OK);
			assert_true(back == du_cksum_crc(v[i].alg, 0, v[i].in, strlen(v[i].in)));
		}
	}
}

static void test_from_b64_rejects(void **state)
{
	(void)state;
	uint64_t v = 7;
	struct du_err err = { 0 };
	assert_int_equal(du_cksum_from_b64(DU_CK_CRC32C, "4waSg===", &v, &err), DU_ERR_PARSE);
	assert_int_equal(du_cksum_from_b64(DU_CK_CRC32C, "rosUhgp5mIg=", &v, &err), DU_ERR_PARSE);
	assert_int_equal(du_cksum_from_b64(DU_CK_CRC64NVME, "4waSgw==", &v, &err), DU_ERR_PARSE);
	assert_int_equal(du_cksum_from_b64(DU_CK_CRC32C, "4wa!gw==", &v, &err), DU_ERR_PARSE);
	assert_int_equal(du_cksum_from_b64(DU_CK_CRC32C, NULL, &v, &err), DU_ERR_PARSE);
	assert_true(v == 7);
}

/* Running values fed in pieces, and part values combined, equal the one-shot value. */
static void test_combine_is_whole(void **state)
{
	(void)state;
	size_t n = 70000;
	unsigned char *buf = malloc(n);
	assert_non_null(buf);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	static const enum du_cksum_alg algs[] = { DU_CK_CRC32, DU_CK_CRC32C, DU_CK_CRC64NVME };
	static const size_t cuts[] = { 0, 1, 7, 8, 9, 4096, 65535, 69999, 70000 };
	for (size_t a = 0; a < 3; a++) {
		enum du_cksum_alg alg = algs[a];
		uint64_t whole = du_cksum_crc(alg, 0, buf, n);
		for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
			size_t k = cuts[c];
			uint64_t ca = du_cksum_crc(alg, 0, buf, k), cb = du_cksum_crc(alg, 0, buf + k, n - k);
			assert_true(du_cksum_crc(alg, ca, buf + k, n - k) == whole);
			assert_true(du_cksum_combine(alg, ca, cb, n - k) == whole);
		}
		/* three parts, combined left to right as the uploader does */
		uint64_t acc = 0;
		for (size_t off = 0; off < n; off += 30000) {
			size_t l = off + 30000 > n ? n - off : 30000;
			acc = du_cksum_combine(alg, acc, du_cksum_crc(alg, 0, buf + off, l), l);
		}
		assert_true(acc == whole);
	}
	/* "12345" + "6789" = "123456789" */
	assert_true(du_cksum_combine(DU_CK_CRC32C, du_cksum_crc(DU_CK_CRC32C, 0, "12345", 5),
				     du_cksum_crc(DU_CK_CRC32C, 0, "6789", 4), 4) == 0xE3069283u);
	free(buf);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(du_cksum_parse("CRC32C"), DU_CK_CRC32C);
	assert_int_equal(du_cksum_parse("crc64nvme"), DU_CK_CRC64NVME);
	assert_int_equal(du_cksum_parse("auto"), DU_CK_AUTO);
	assert_int_equal(du_cksum_parse("none"), DU_CK_NONE);
	assert_int_equal(du_cksum_parse("crc16"), -1);
	assert_string_equal(du_cksum_upper(DU_CK_CRC64NVME), "CRC64NVME");
	assert_string_equal(du_cksum_name(DU_CK_SHA256), "sha256");
	assert_false(du_cksum_is_crc(DU_CK_SHA256));
}

/* Throughput, printed for docs/PERFORMANCE.md (not asserted: the machine is shared). */
static void test_speed(void **state)
{
	(void)state;
	size_t n = 64u << 20;
	unsigned char *buf = malloc(n);
	assert_non_null(buf);
	memset(buf, 0x5a, n); /* fault the pages in before the clock starts */
	static const enum du_cksum_alg algs[] = { DU_CK_CRC32C, DU_CK_CRC32, DU_CK_CRC64NVME, DU_CK_MD5 };
	for (size_t a = 0; a < 4; a++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (algs[a] == DU_CK_MD5) {
			unsigned char md[DU_MD5_LEN];
			du_md5(buf, n, md);
		} else {
			volatile uint64_t v = du_cksum_crc(algs[a], 0, buf, n);
			(void)v;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		print_message("%-10s %6.2f GB/s\n", du_cksum_name(algs[a]), (double)n / s / 1e9);
	}
	free(buf);
}

/* The one file digest: whole md5, S3's composite and a CRC, whatever the pieces fed to it. */
static void test_digest(void **state)
{
	(void)state;
	const size_t len = (12u << 20) + 7, ps = 5u << 20;
	unsigned char *buf = malloc(len);
	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	/* what S3 computes: md5 of the part md5s, "-3" */
	unsigned char md[16], cat[48];
	char hex[33], want_comp[48], want_md5[33], want_crc[DU_CKSUM_B64_LEN];
	for (int k = 0; k < 3; k++)
		du_md5(buf + k * ps, k < 2 ? ps : len - 2 * ps, cat + 16 * k);
	du_md5(cat, sizeof(cat), md);
	du_hex(md, 16, hex);
	snprintf(want_comp, sizeof(want_comp), "%s-3", hex);
	du_md5(buf, len, md);
	du_hex(md, 16, want_md5);
	du_cksum_buf_b64(DU_CK_CRC32C, buf, len, want_crc);

	static const size_t pieces[] = { len, 1 << 20, 4096, 777777, 1 };
	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		struct du_digest d;
		struct du_digest_out out;
		assert_int_equal(du_digest_init(&d, true, ps, DU_CK_CRC32C), DU_OK);
		size_t step = pieces[k] == 1 ? (5u << 20) - 3 : pieces[k];   /* 1: a piece across a part end */
		for (size_t off = 0; off < len; off += step)
			du_digest_update(&d, buf + off, len - off < step ? len - off : step);
		assert_int_equal(du_digest_final(&d, &out), DU_OK);
		assert_string_equal(out.md5, want_md5);
		assert_string_equal(out.composite, want_comp);
		assert_string_equal(out.crc, want_crc);
	}
	/* a file of exactly two parts is "-2", not "-3" with an empty one */
	struct du_digest d;
	struct du_digest_out out;
	assert_int_equal(du_digest_init(&d, false, ps, DU_CK_NONE), DU_OK);
	du_digest_update(&d, buf, 2 * ps);
	assert_int_equal(du_digest_final(&d, &out), DU_OK);
	assert_string_equal(out.md5, "");
	assert_non_null(strstr(out.composite, "-2"));
	assert_string_equal(out.crc, "");

	/* the same from a file, read through a small buffer */
	char path[] = "/tmp/du-digest-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	unsigned char small[65536];
	struct du_err e = { 0 };
	assert_int_equal(du_digest_file(path, true, ps, DU_CK_CRC32C, small, sizeof(small), &out, &e), DU_OK);
	assert_string_equal(out.md5, want_md5);
	assert_string_equal(out.composite, want_comp);
	assert_string_equal(out.crc, want_crc);
	unlink(path);
	assert_int_equal(du_digest_file(path, true, 0, DU_CK_NONE, small, sizeof(small), &out, &e), DU_ERR_IO);
	assert_non_null(strstr(e.msg, "cannot open"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_values),
		cmocka_unit_test(test_b64_forms),
		cmocka_unit_test(test_from_b64_rejects),
		cmocka_unit_test(test_combine_is_whole),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_speed),
		cmocka_unit_test(test_digest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
