/* The page netdep serve answers at /: its files, embedded at build time by
 * tools/embed-web.py, and the login that turns a reader token into a
 * cookie for it. docs/web.md. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct nd_web_asset {
        const char *name; /* "index.html", else with its content's hash: "app.1f2e3d4c5b.js" */
        const char *content_type;
        const char *bytes;
        size_t length;
        const char *gzip; /* the same, gzip -9 */
        size_t gzip_length;
        const char *etag; /* quoted */
};

/* Generated; empty (n 0) when the build had no npm. */
extern const struct nd_web_asset nd_web_assets[];
extern const size_t nd_web_n_assets;

#define ND_WEB_COOKIE "netdep_token"
#define ND_WEB_LOGIN_PATH "/login"
/* "Bearer " and a token, with room to spare. */
#define ND_WEB_BEARER_MAX 1040

/* Whether url is the page's: "/", "/index.html", "/assets/...", "/login",
 * "/logout". */
bool nd_web_owns(const char *url);

/* The asset at url, or its 404/405; "/login" and "/logout" with any
 * method but POST get 405. */
enum MHD_Result nd_web_answer(struct MHD_Connection *c, const char *url, const char *method);

/* The token a login form posted (application/x-www-form-urlencoded,
 * "token=..."), decoded into ret. -EINVAL when there is none, or it holds
 * a character a cookie cannot carry; -ENOBUFS when longer than ret. */
int nd_web_login_token(const char *body, size_t size, char *ret, size_t ret_size);

/* Whether "Bearer TOKEN" is a token that may read: serve's check. */
typedef bool (*nd_web_reads_fn)(void *userdata, const char *bearer);

/* POST /login with the form's body (NULL: too large): 303 to "/" setting
 * the cookie when reads() takes the token, else 303 to "/?login=refused".
 * reads NULL: no tokens configured, no cookie, 303 to "/". secure: served
 * over TLS (the cookie says Secure). */
enum MHD_Result nd_web_login(struct MHD_Connection *c, nd_web_reads_fn reads, void *userdata, const char *body,
                             size_t size, bool secure);

/* GET /login: {"login": state}, state "none" (no tokens), "done" (the
 * request carries a reader token) or "required". */
enum MHD_Result nd_web_login_state(struct MHD_Connection *c, const char *state);

/* POST /logout: the cookie cleared, 303 to "/". */
enum MHD_Result nd_web_logout_answer(struct MHD_Connection *c, bool secure);

/* "Bearer TOKEN" from the cookie, into ret: 0, or -ENOENT without one.
 * For GETs only: a browser sends a cookie with any request, a form posted
 * from another site's page included. */
int nd_web_cookie_bearer(struct MHD_Connection *c, char *ret, size_t ret_size);
