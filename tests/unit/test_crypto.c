/* Unit tests for crypto.c against the published vectors (RFC 1321, FIPS 180-2, RFC 4231, RFC 4648). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "du/crypto.h"

static void md5_hex(const char *s, size_t len, char out[DU_MD5_HEX_LEN])
{
	unsigned char md[DU_MD5_LEN];
	du_md5(s, len, md);
	du_hex(md, sizeof(md), out);
}

static void test_check(void **state)
{
	(void)state;
	struct du_err err = { 0 };
	assert_int_equal(du_crypto_check(&err), DU_OK);
}

static void test_md5_rfc1321(void **state)
{
	(void)state;
	static const char *const v[][2] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char hex[DU_MD5_HEX_LEN];
		md5_hex(v[i][0], strlen(v[i][0]), hex);
		assert_string_equal(hex, v[i][1]);
	}
}

static void test_sha256_fips180(void **state)
{
	(void)state;
	char hex[DU_SHA256_HEX_LEN];
	du_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	du_sha256_hex(two, strlen(two), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	du_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	char *million = malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	du_sha256_hex(million, 1000000, hex);
	free(million);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

	/* The binary form is what the hex form prints. */
	unsigned char md[DU_SHA256_LEN];
	du_sha256("abc", 3, md);
	assert_int_equal(md[0], 0xba);
	assert_int_equal(md[31], 0xad);
}

static void test_hmac_rfc4231(void **state)
{
	(void)state;
	unsigned char k20[20], kaa20[20], d50[50], k25[25], cd50[50], k131[131];
	memset(k20, 0x0b, sizeof(k20));
	memset(kaa20, 0xaa, sizeof(kaa20));
	memset(d50, 0xdd, sizeof(d50));
	for (int i = 0; i < 25; i++)
		k25[i] = (unsigned char)(i + 1);
	memset(cd50, 0xcd, sizeof(cd50));
	memset(k131, 0xaa, sizeof(k131));
	const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	const char *t7 = "This is a test using a larger than block-size key and a larger than block-size "
			 "data. The key needs to be hashed before being used by the HMAC algorithm.";
	struct {
		const void *key;
		size_t klen;
		const void *msg;
		size_t mlen;
		const char *want;
	} v[] = {
		{ k20, 20, "Hi There", 8,
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "Jefe", 4, "what do ya want for nothing?", 28,
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ kaa20, 20, d50, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
		{ k25, 25, cd50, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
		{ k131, 131, t6, strlen(t6),
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		{ k131, 131, t7, strlen(t7),
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char mac[DU_SHA256_LEN];
		char hex[DU_SHA256_HEX_LEN];
		du_hmac_sha256(v[i].key, v[i].klen, v[i].msg, v[i].mlen, mac);
		du_hex(mac, sizeof(mac), hex);
		assert_string_equal(hex, v[i].want);
	}
	/* Output may alias the key (sigv4 chains keys that way). */
	unsigned char k[DU_SHA256_LEN], want[DU_SHA256_LEN];
	memset(k, 0x0b, 20);
	du_hmac_sha256(k, 20, "Hi There", 8, want);
	du_hmac_sha256(k, 20, "Hi There", 8, k);
	assert_memory_equal(k, want, sizeof(want));
}

static void test_hex(void **state)
{
	(void)state;
	const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(in) + 1];
	memset(out, 'X', sizeof(out));
	du_hex(in, sizeof(in), out);
	assert_string_equal(out, "00017f80abff");
	du_hex(in, 0, out);
	assert_string_equal(out, "");
}

static void test_base64_rfc4648(void **state)
{
	(void)state;
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[16];
		size_t n = du_base64((const unsigned char *)v[i][0], strlen(v[i][0]), out, sizeof(out));
		assert_int_equal(n, strlen(v[i][1]));
		assert_string_equal(out, v[i][1]);
	}
	/* Exactly enough room (4 characters and the NUL), and one byte short. */
	char small[5];
	assert_int_equal(du_base64((const unsigned char *)"foo", 3, small, 5), 4);
	assert_string_equal(small, "Zm9v");
	assert_int_equal(du_base64((const unsigned char *)"foo", 3, small, 4), 0);
	assert_int_equal(du_base64((const unsigned char *)"f", 1, small, 4), 0);

	/* Content-MD5 of "" as S3 wants it: base64 of the 16 raw bytes, fits DU_MD5_B64_LEN. */
	unsigned char md[DU_MD5_LEN];
	char b64[DU_MD5_B64_LEN];
	du_md5("", 0, md);
	assert_int_equal(du_base64(md, sizeof(md), b64, sizeof(b64)), 24);
	assert_string_equal(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
	/* Bytes >= 0x80 and the '+' '/' alphabet. */
	const unsigned char hi[] = { 0xfb, 0xff, 0xbf };
	char o[8];
	assert_int_equal(du_base64(hi, 3, o, sizeof(o)), 4);
	assert_string_equal(o, "+/+/");
}

static void test_md5_incremental(void **state)
{
	(void)state;
	size_t len = 3 * 1024 * 1024 + 17;
	unsigned char *buf = malloc(len);
	assert_non_null(buf);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	unsigned char one[DU_MD5_LEN], inc[DU_MD5_LEN];
	du_md5(buf, len, one);

	struct du_md5_ctx *c = du_md5_new();
	assert_non_null(c);
	size_t off = 0, step = 1;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		du_md5_update(c, buf + off, n);
		off += n;
		step = step * 7 % 65521 + 1; /* uneven pieces, some not a multiple of MD5's 64-byte block */
	}
	du_md5_update(c, buf, 0);
	du_md5_final(c, inc);
	assert_memory_equal(one, inc, DU_MD5_LEN);
	free(buf);

	/* No updates at all: the MD5 of nothing. */
	c = du_md5_new();
	assert_non_null(c);
	du_md5_final(c, inc);
	char hex[DU_MD5_HEX_LEN];
	du_hex(inc, sizeof(inc), hex);
	assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");

	/* Pieces shorter than a block, as the last bytes of a file arrive. */
	c = du_md5_new();
	assert_non_null(c);
	du_md5_update(c, "a", 1);
	du_md5_update(c, "bc", 2);
	du_md5_final(c, inc);
	du_hex(inc, sizeof(inc), hex);
	assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_md5_rfc1321),
		cmocka_unit_test(test_sha256_fips180),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64_rfc4648),
		cmocka_unit_test(test_md5_incremental),
	};
	return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
