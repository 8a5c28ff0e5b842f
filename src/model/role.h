/* Roles: hosts grouped as service:role (and datacenter), by rules that match
 * an address, a CIDR block or a hostname glob. The first matching rule wins.
 *
 * The roles file, one rule a line ('#' starts a comment):
 *
 *   MATCH  SERVICE:ROLE  [dc=DATACENTER]  [name=NAME]
 *
 *   10.0.1.0/24        blog:web     dc=tokyo1
 *   10.0.2.5           blog:db      dc=tokyo1 name=db-primary
 *   fd00:1::/64        blog:cache
 *   redis-*.internal   blog:redis
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model/addr.h"

#define ND_ROLE_FIELD_MAX 128

enum nd_role_match_kind {
        ND_ROLE_MATCH_CIDR, /* an address is a /32 or /128 CIDR */
        ND_ROLE_MATCH_HOSTNAME_GLOB,
};

struct nd_role_rule {
        enum nd_role_match_kind kind;
        char match[256]; /* as written */
        struct nd_addr network;
        unsigned prefix_len;
        char service[ND_ROLE_FIELD_MAX], role[ND_ROLE_FIELD_MAX];
        char datacenter[ND_ROLE_FIELD_MAX], name[ND_ROLE_FIELD_MAX];
};

struct nd_role_rules {
        struct nd_role_rule *items;
        size_t n, allocated;
};

void nd_role_rules_done(struct nd_role_rules *rules);
int nd_role_rules_push(struct nd_role_rules *rules, const struct nd_role_rule *rule);

/* Builds a rule from its parts (as a file line or the store gives them).
 * On failure returns -EINVAL and writes what is wrong into why. */
int nd_role_rule_make(const char *match, const char *service_role, const char *datacenter,
                      const char *name, struct nd_role_rule *ret, char *why, size_t why_size);

/* Parses a roles file. On failure returns -EINVAL with "LINE: what is wrong"
 * in why (the caller adds the file name); *ret is set only on success. */
int nd_role_rules_parse(FILE *f, struct nd_role_rules *ret, char *why, size_t why_size);

/* The first rule that matches the address or (for globs) the hostname,
 * which may be NULL. */
const struct nd_role_rule *nd_role_rules_find(const struct nd_role_rules *rules, const struct nd_addr *addr,
                                              const char *hostname);

/* "SERVICE:ROLE" into service and role; -EINVAL unless both are non-empty. */
int nd_role_split(const char *service_role, char *service, char *role, size_t size);
