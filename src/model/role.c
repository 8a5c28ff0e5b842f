#include "model/role.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shared/cleanup.h"

void nd_role_rules_done(struct nd_role_rules *rules)
{
        free(rules->items);
        *rules = (struct nd_role_rules){};
}

int nd_role_rules_push(struct nd_role_rules *rules, const struct nd_role_rule *rule)
{
        if (rules->n == rules->allocated) {
                size_t want = rules->allocated ? rules->allocated * 2 : 16;
                struct nd_role_rule *items = reallocarray(rules->items, want, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                rules->items = items;
                rules->allocated = want;
        }
        rules->items[rules->n++] = *rule;
        return 0;
}

static bool valid_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.';
}

static bool valid_name(const char *s)
{
        if (!*s || strlen(s) >= ND_ROLE_FIELD_MAX)
                return false;
        for (; *s; s++)
                if (!valid_name_char(*s))
                        return false;
        return true;
}

int nd_role_split(const char *service_role, char *service, char *role, size_t size)
{
        const char *colon = strchr(service_role, ':');
        size_t n;

        if (!colon || strchr(colon + 1, ':'))
                return -EINVAL;
        n = (size_t)(colon - service_role);
        if (n == 0 || n >= size || strlen(colon + 1) >= size)
                return -EINVAL;
        memcpy(service, service_role, n);
        service[n] = 0;
        strcpy(role, colon + 1);
        return valid_name(service) && valid_name(role) ? 0 : -EINVAL;
}

static int parse_cidr(const char *s, struct nd_addr *network, unsigned *prefix_len)
{
        char buf[64];
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        unsigned max, len;

        if (n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (nd_addr_parse(buf, network) < 0)
                return -EINVAL;
        max = network->family == AF_INET ? 32 : 128;
        len = max;
        if (slash) {
                char *end;
                unsigned long v = strtoul(slash + 1, &end, 10);
                if (!slash[1] || *end || v > max)
                        return -EINVAL;
                len = (unsigned)v;
        }
        *prefix_len = len;
        return 0;
}

static bool cidr_contains(const struct nd_role_rule *r, const struct nd_addr *a)
{
        unsigned bits = r->prefix_len;

        if (a->family != r->network.family)
                return false;
        for (unsigned i = 0; bits > 0; i++, bits = bits > 8 ? bits - 8 : 0) {
                uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
                if ((a->bytes[i] & mask) != (r->network.bytes[i] & mask))
                        return false;
        }
        return true;
}

int nd_role_rule_make(const char *match, const char *service_role, const char *datacenter,
                      const char *name, struct nd_role_rule *ret, char *why, size_t why_size)
{
        struct nd_role_rule r = {};

        if (!*match || strlen(match) >= sizeof(r.match)) {
                snprintf(why, why_size, "bad match '%s'", match);
                return -EINVAL;
        }
        snprintf(r.match, sizeof(r.match), "%s", match);
        if (parse_cidr(match, &r.network, &r.prefix_len) == 0)
                r.kind = ND_ROLE_MATCH_CIDR;
        else if (strchr(match, '/') || (strspn(match, "0123456789.") == strlen(match)) ||
                 (strchr(match, ':') && !strpbrk(match, "*?["))) {
                /* Looks like an address or CIDR but is not a valid one. */
                snprintf(why, why_size, "invalid address or CIDR '%s'", match);
                return -EINVAL;
        } else
                r.kind = ND_ROLE_MATCH_HOSTNAME_GLOB;

        if (nd_role_split(service_role, r.service, r.role, sizeof(r.service)) < 0) {
                snprintf(why, why_size, "invalid role '%s' (want SERVICE:ROLE of letters, digits, '-', '_', '.')",
                         service_role);
                return -EINVAL;
        }
        if (datacenter && *datacenter) {
                if (!valid_name(datacenter)) {
                        snprintf(why, why_size, "invalid datacenter '%s'", datacenter);
                        return -EINVAL;
                }
                strcpy(r.datacenter, datacenter);
        }
        if (name && *name) {
                if (strlen(name) >= sizeof(r.name)) {
                        snprintf(why, why_size, "name too long");
                        return -EINVAL;
                }
                strcpy(r.name, name);
        }
        *ret = r;
        return 0;
}

static int parse_line(char *line, struct nd_role_rule *ret, char *why, size_t why_size)
{
        char *fields[8];
        const char *dc = NULL, *name = NULL;
        int n = 0;

        for (char *tok = strtok(line, " \t"); tok; tok = strtok(NULL, " \t")) {
                if (n == (int)ELEMENTSOF(fields)) {
                        snprintf(why, why_size, "too many fields");
                        return -EINVAL;
                }
                fields[n++] = tok;
        }
        if (n < 2) {
                snprintf(why, why_size, "expected 'MATCH SERVICE:ROLE [dc=DC] [name=NAME]'");
                return -EINVAL;
        }
        for (int i = 2; i < n; i++) {
                if (strncmp(fields[i], "dc=", 3) == 0)
                        dc = fields[i] + 3;
                else if (strncmp(fields[i], "name=", 5) == 0)
                        name = fields[i] + 5;
                else {
                        snprintf(why, why_size, "unknown field '%s' (dc= or name=)", fields[i]);
                        return -EINVAL;
                }
        }
        return nd_role_rule_make(fields[0], fields[1], dc, name, ret, why, why_size);
}

int nd_role_rules_parse(FILE *f, struct nd_role_rules *ret, char *why, size_t why_size)
{
        _cleanup_free_ char *line = NULL;
        struct nd_role_rules rules = {};
        size_t size = 0;
        unsigned lineno = 0;
        ssize_t len;
        int r;

        while ((len = getline(&line, &size, f)) >= 0) {
                struct nd_role_rule rule;
                char detail[300];
                char *hash;

                lineno++;
                if ((size_t)len != strlen(line)) {
                        snprintf(why, why_size, "line %u: NUL byte in line", lineno);
                        nd_role_rules_done(&rules);
                        return -EINVAL;
                }
                if ((hash = strchr(line, '#')))
                        *hash = 0;
                line[strcspn(line, "\r\n")] = 0;
                if (strspn(line, " \t") == strlen(line))
                        continue;
                r = parse_line(line, &rule, detail, sizeof(detail));
                if (r >= 0)
                        r = nd_role_rules_push(&rules, &rule);
                if (r < 0) {
                        if (r == -ENOMEM)
                                snprintf(detail, sizeof(detail), "out of memory");
                        snprintf(why, why_size, "line %u: %s", lineno, detail);
                        nd_role_rules_done(&rules);
                        return r;
                }
        }
        if (ferror(f)) {
                snprintf(why, why_size, "read error after line %u", lineno);
                nd_role_rules_done(&rules);
                return -EIO;
        }
        *ret = rules;
        return 0;
}

const struct nd_role_rule *nd_role_rules_find(const struct nd_role_rules *rules, const struct nd_addr *addr,
                                              const char *hostname)
{
        for (size_t i = 0; i < rules->n; i++) {
                const struct nd_role_rule *r = &rules->items[i];

                if (r->kind == ND_ROLE_MATCH_CIDR ? cidr_contains(r, addr)
                                                  : hostname && fnmatch(r->match, hostname, FNM_CASEFOLD) == 0)
                        return r;
        }
        return NULL;
}
