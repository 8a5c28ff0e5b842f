/* The page's side of serve: the login form's token, decoded or refused,
 * and the embedded asset table as the build wrote it: index.html there,
 * every other asset named by its content's hash, each with its gzip'd
 * form and an ETag. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "serve/web.h"

#define FORM(s) s, sizeof(s) - 1

static void login_token_decoded(void **state)
{
        char t[64];

        assert_int_equal(nd_web_login_token(FORM("token=0b8f6c1e2d3a4b5c"), t, sizeof(t)), 0);
        assert_string_equal(t, "0b8f6c1e2d3a4b5c");
        /* base64 characters as a browser encodes them; a pasted newline dropped */
        assert_int_equal(nd_web_login_token(FORM("x=1&token=ab%2Bcd%2F%3D%3D%0A&y=2"), t, sizeof(t)), 0);
        assert_string_equal(t, "ab+cd/==");
        assert_int_equal(nd_web_login_token(FORM("token=a-b_c.d~e"), t, sizeof(t)), 0);
        assert_string_equal(t, "a-b_c.d~e");
}

static void login_token_refused(void **state)
{
        char t[16];

        assert_int_equal(nd_web_login_token(FORM(""), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("user=x"), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token="), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token=%0A"), t, sizeof(t)), -EINVAL);
        /* what would end the cookie or start another attribute */
        assert_int_equal(nd_web_login_token(FORM("token=ab%3Bcd"), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token=ab%2Ccd"), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token=ab%22"), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token=ab%00cd"), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token=ab%4"), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token=ab%zz"), t, sizeof(t)), -EINVAL);
        assert_int_equal(nd_web_login_token(FORM("token=0123456789abcdef"), t, sizeof(t)), -ENOBUFS);
}

static void routes(void **state)
{
        assert_true(nd_web_owns("/"));
        assert_true(nd_web_owns("/index.html"));
        assert_true(nd_web_owns("/assets/app.0123456789.js"));
        assert_true(nd_web_owns("/login"));
        assert_true(nd_web_owns("/logout"));
        assert_false(nd_web_owns("/api/v1/graph"));
        assert_false(nd_web_owns("/metrics"));
        assert_false(nd_web_owns("/assets"));
}

static void asset_table(void **state)
{
        bool index = false;

        if (nd_web_n_assets == 0)
                skip(); /* built without npm: nothing to check */
        for (size_t i = 0; i < nd_web_n_assets; i++) {
                const struct nd_web_asset *a = &nd_web_assets[i];
                static unsigned char out[1 << 20];
                z_stream z = { .next_in = (unsigned char *)a->gzip, .avail_in = (uInt)a->gzip_length,
                               .next_out = out, .avail_out = sizeof(out) };

                if (strcmp(a->name, "index.html") == 0) {
                        index = true;
                        assert_non_null(strstr(a->bytes, "/assets/app."));
                        assert_null(strstr(a->bytes, "@ASSET("));
                        assert_null(strstr(a->bytes, "<style"));
                } else {
                        /* stem.HASH10.ext */
                        const char *dot = strrchr(a->name, '.'), *hash = dot - 11;
                        assert_true(dot - a->name > 11 && *hash == '.');
                        for (int k = 1; k <= 10; k++)
                                assert_non_null(strchr("0123456789abcdef", hash[k]));
                }
                assert_int_equal(strlen(a->bytes), a->length);
                assert_true(a->etag[0] == '"' && a->etag[strlen(a->etag) - 1] == '"');
                assert_non_null(strstr(a->content_type, "charset=utf-8"));
                /* the gzip'd form inflates to the bytes */
                assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
                assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
                assert_int_equal(z.total_out, a->length);
                assert_memory_equal(out, a->bytes, a->length);
                inflateEnd(&z);
        }
        assert_true(index);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(login_token_decoded),
                cmocka_unit_test(login_token_refused),
                cmocka_unit_test(routes),
                cmocka_unit_test(asset_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
