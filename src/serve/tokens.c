#include "serve/tokens.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int digest(const char *token, size_t len, unsigned char out[32])
{
        return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, out) < 0 ? -EIO : 0;
}

static int parse_scope(const char *s, enum nd_scope *ret)
{
        if (strcmp(s, "agent") == 0)
                *ret = ND_SCOPE_AGENT;
        else if (strcmp(s, "reader") == 0)
                *ret = ND_SCOPE_READER;
        else if (strcmp(s, "admin") == 0)
                *ret = ND_SCOPE_ADMIN;
        else
                return -EINVAL;
        return 0;
}

static bool token_chars(const char *s)
{
        for (; *s; s++)
                if (!isgraph((unsigned char)*s))
                        return false;
        return true;
}

int nd_tokens_parse(const char *text, const char *name, struct nd_tokens *ret, char *why, size_t why_size)
{
        struct nd_tokens t = {};
        char *copy = strdup(text), *save = NULL, *line;
        unsigned lineno = 0;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        /* strsep keeps empty lines, so that line numbers stay true. */
        for (char *rest = copy; r >= 0 && (line = strsep(&rest, "\n"));) {
                char *fields[4] = {}, *f;
                size_t n = 0;
                struct nd_token *items, *tok;

                lineno++;
                line[strcspn(line, "#")] = '\0';
                for (f = strtok_r(line, " \t\r", &save); f && n < 4; f = strtok_r(NULL, " \t\r", &save))
                        fields[n++] = f;
                if (n == 0)
                        continue;
                tok = &(struct nd_token){};
                if (n < 2 || n > 3 || parse_scope(fields[0], &tok->scope) < 0) {
                        snprintf(why, why_size, "%s:%u: want 'SCOPE TOKEN [HOSTNAME]', SCOPE agent, reader or admin",
                                 name, lineno);
                        r = -EINVAL;
                        break;
                }
                if (strlen(fields[1]) < ND_TOKEN_MIN_LENGTH || !token_chars(fields[1])) {
                        snprintf(why, why_size, "%s:%u: a token needs at least %d printable characters", name,
                                 lineno, ND_TOKEN_MIN_LENGTH);
                        r = -EINVAL;
                        break;
                }
                if ((tok->scope == ND_SCOPE_AGENT) != (n == 3)) {
                        snprintf(why, why_size, "%s:%u: %s", name, lineno,
                                 n == 3 ? "only an agent token names a hostname"
                                        : "an agent token names the hostname it writes for");
                        r = -EINVAL;
                        break;
                }
                if (n == 3) {
                        if (strlen(fields[2]) >= sizeof(tok->hostname)) {
                                snprintf(why, why_size, "%s:%u: hostname too long", name, lineno);
                                r = -EINVAL;
                                break;
                        }
                        strcpy(tok->hostname, fields[2]);
                }
                if (digest(fields[1], strlen(fields[1]), tok->digest) < 0) {
                        snprintf(why, why_size, "%s:%u: cannot hash the token", name, lineno);
                        r = -EIO;
                        break;
                }
                for (size_t i = 0; i < t.n; i++)
                        if (memcmp(t.items[i].digest, tok->digest, sizeof(tok->digest)) == 0) {
                                snprintf(why, why_size, "%s:%u: the same token twice", name, lineno);
                                r = -EINVAL;
                        }
                if (r < 0)
                        break;
                items = reallocarray(t.items, t.n + 1, sizeof(*items));
                if (!items) {
                        r = -ENOMEM;
                        break;
                }
                t.items = items;
                t.items[t.n++] = *tok;
        }
        explicit_bzero(copy, strlen(text));
        free(copy);
        if (r < 0) {
                nd_tokens_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

int nd_tokens_load(const char *path, struct nd_tokens *ret, char *why, size_t why_size)
{
        FILE *f = fopen(path, "re");
        struct stat st;
        char *text;
        size_t len;
        int r;

        if (!f) {
                r = -errno;
                snprintf(why, why_size, "cannot read token file %s: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fileno(f), &st) < 0 || (st.st_mode & 0077)) {
                fclose(f);
                snprintf(why, why_size, "token file %s is readable by others: chmod 600 it", path);
                return -EPERM;
        }
        if (st.st_size > 16 << 20) {
                fclose(f);
                snprintf(why, why_size, "token file %s is larger than 16 MiB", path);
                return -EFBIG;
        }
        text = calloc(1, (size_t)st.st_size + 1);
        len = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
        fclose(f);
        if (!text)
                return -ENOMEM;
        text[len] = '\0';
        r = nd_tokens_parse(text, path, ret, why, why_size);
        explicit_bzero(text, len);
        free(text);
        return r;
}

void nd_tokens_done(struct nd_tokens *t)
{
        if (t->items)
                explicit_bzero(t->items, t->n * sizeof(*t->items));
        free(t->items);
        *t = (struct nd_tokens){};
}

const struct nd_token *nd_tokens_check(const struct nd_tokens *t, const char *authorization)
{
        unsigned char d[32];
        const struct nd_token *found = NULL;
        const char *token;

        if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
                return NULL;
        token = authorization + 7;
        while (*token == ' ')
                token++;
        if (!*token || digest(token, strlen(token), d) < 0)
                return NULL;
        /* Every entry, to the last byte: the time says nothing about which
         * one matched, or how much of it. */
        for (size_t i = 0; i < t->n; i++) {
                unsigned char diff = 0;
                for (size_t k = 0; k < sizeof(d); k++)
                        diff |= (unsigned char)(d[k] ^ t->items[i].digest[k]);
                /* Branch-free select. */
                uintptr_t mask = (uintptr_t)0 - (uintptr_t)(diff == 0);
                found = (const struct nd_token *)(((uintptr_t)&t->items[i] & mask) | ((uintptr_t)found & ~mask));
        }
        return found;
}

bool nd_token_allows(const struct nd_token *t, enum nd_scope scope)
{
        return t && ((t->scope & scope) || t->scope == ND_SCOPE_ADMIN);
}
