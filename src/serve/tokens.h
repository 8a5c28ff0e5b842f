/* Who may do what on a netdep server: bearer tokens from a file, each with
 * a scope.
 *
 *   # SCOPE   TOKEN                              [HOSTNAME]
 *   agent     0b8f6c1e2d...                      app1
 *   reader    77ab1f09c4...
 *   admin     c0de5eed42...
 *
 * An agent token writes flushes for its hostname only (and the network
 * namespaces that agent names); a reader reads; an admin does both and
 * replaces the role rules. Tokens are kept as SHA-256 digests and compared
 * in constant time, every one of them, whatever matches. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum nd_scope {
        ND_SCOPE_NONE = 0,
        ND_SCOPE_AGENT = 1 << 0,
        ND_SCOPE_READER = 1 << 1,
        ND_SCOPE_ADMIN = 1 << 2,
};

#define ND_TOKEN_MIN_LENGTH 16

struct nd_token {
        unsigned char digest[32];
        enum nd_scope scope;
        char hostname[256]; /* agent tokens: the host it writes for */
};

struct nd_tokens {
        struct nd_token *items;
        size_t n;
};

/* Reads a token file. -EINVAL with "FILE:LINE: why" in why; -errno when
 * it cannot be read. A file that is readable by others than its owner is
 * refused too: tokens are secrets. */
int nd_tokens_load(const char *path, struct nd_tokens *ret, char *why, size_t why_size);
/* The same from text (tests, and the loader). name: what why calls it. */
int nd_tokens_parse(const char *text, const char *name, struct nd_tokens *ret, char *why, size_t why_size);
void nd_tokens_done(struct nd_tokens *t);

/* The token in an Authorization header value ("Bearer TOKEN"): its entry,
 * or NULL when missing or unknown. Constant time in which entry matches. */
const struct nd_token *nd_tokens_check(const struct nd_tokens *t, const char *authorization);

/* Whether a token allows one of the scopes in scope (a mask): admin
 * allows all. */
bool nd_token_allows(const struct nd_token *t, enum nd_scope scope);
