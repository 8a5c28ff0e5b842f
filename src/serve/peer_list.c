#include "serve/peer_list.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "shared/why.h"

void nd_peer_rules_done(struct nd_peer_rules *rules)
{
        free(rules->items);
        *rules = (struct nd_peer_rules){};
}

int nd_peer_kinds_parse(const char *s, unsigned *ret)
{
        if (strcmp(s, "tcp") == 0)
                *ret = ND_PEER_TCP;
        else if (strcmp(s, "icmp") == 0)
                *ret = ND_PEER_ICMP;
        else if (strcmp(s, "both") == 0)
                *ret = ND_PEER_BOTH;
        else
                return -EINVAL;
        return 0;
}

const char *nd_peer_kinds_name(unsigned kinds)
{
        return kinds == ND_PEER_BOTH ? "both" : kinds == ND_PEER_ICMP ? "icmp" : "tcp";
}

/* ADDR, ADDR:PORT or [ADDR6]:PORT. */
static int parse_target(char *s, struct nd_addr *addr, int *port)
{
        char *colon = strrchr(s, ':'), *end;
        long p;

        *port = -1;
        if (s[0] == '[') {
                char *close = strchr(s, ']');
                if (!close || (close[1] && close[1] != ':'))
                        return -EINVAL;
                *close = '\0';
                colon = close[1] == ':' ? close + 1 : NULL;
                s++;
        } else if (colon && strchr(s, ':') != colon)
                colon = NULL; /* a bare IPv6 address */
        if (colon) {
                *colon = '\0';
                p = strtol(colon + 1, &end, 10);
                if (*end || end == colon + 1 || p < 1 || p > 65535)
                        return -EINVAL;
                *port = (int)p;
        }
        return nd_addr_parse(s, addr);
}

int nd_peer_rules_parse(FILE *f, struct nd_peer_rules *ret, char *why, size_t why_size)
{
        struct nd_peer_rules rules = {};
        char *line = NULL;
        size_t size = 0, allocated = 0;
        unsigned lineno = 0;
        int r = 0;

        while (getline(&line, &size, f) >= 0) {
                char *save = NULL, *field[5] = {};
                struct nd_peer_rule rule = {};
                size_t n = 0;

                lineno++;
                line[strcspn(line, "#\r\n")] = '\0';
                for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
                        if (n < 5)
                                field[n++] = t;
                        else
                                n++;
                if (n == 0)
                        continue;
                if (n < 3 || n > 4) {
                        nd_why_set(why, why_size, "%u: want 'HOSTGLOB add|exclude ADDR[:PORT] [tcp|icmp|both]'",
                                   lineno);
                        r = -EINVAL;
                        break;
                }
                if (strlen(field[0]) >= sizeof(rule.host_glob)) {
                        nd_why_set(why, why_size, "%u: host pattern too long", lineno);
                        r = -EINVAL;
                        break;
                }
                strcpy(rule.host_glob, field[0]);
                if (strcmp(field[1], "add") != 0 && strcmp(field[1], "exclude") != 0) {
                        nd_why_set(why, why_size, "%u: '%s': want add or exclude", lineno, field[1]);
                        r = -EINVAL;
                        break;
                }
                rule.exclude = field[1][0] == 'e';
                if (parse_target(field[2], &rule.addr, &rule.port) < 0) {
                        nd_why_set(why, why_size, "%u: '%s': want ADDR, ADDR:PORT or [ADDR6]:PORT", lineno,
                                   field[2]);
                        r = -EINVAL;
                        break;
                }
                if (n == 4) {
                        if (nd_peer_kinds_parse(field[3], &rule.kinds) < 0) {
                                nd_why_set(why, why_size, "%u: '%s': want tcp, icmp or both", lineno, field[3]);
                                r = -EINVAL;
                                break;
                        }
                } else
                        rule.kinds = rule.exclude ? ND_PEER_BOTH : rule.port > 0 ? ND_PEER_TCP : ND_PEER_ICMP;
                if (!rule.exclude && (rule.kinds & ND_PEER_TCP) && rule.port < 0) {
                        nd_why_set(why, why_size, "%u: a tcp link needs a port", lineno);
                        r = -EINVAL;
                        break;
                }
                if (rules.n == allocated) {
                        size_t want = allocated ? 2 * allocated : 16;
                        struct nd_peer_rule *p = realloc(rules.items, want * sizeof(*p));
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        rules.items = p;
                        allocated = want;
                }
                rules.items[rules.n++] = rule;
        }
        free(line);
        if (r < 0) {
                nd_peer_rules_done(&rules);
                return r;
        }
        *ret = rules;
        return 0;
}

struct peer {
        struct nd_addr addr;
        uint16_t port; /* 0: icmp only */
        unsigned kinds;
};

struct peers {
        struct peer *items;
        size_t n, allocated;
};

static int peers_add(struct peers *ps, const struct nd_addr *addr, uint16_t port, unsigned kinds)
{
        for (size_t i = 0; i < ps->n; i++)
                if (ps->items[i].port == port && nd_addr_equal(&ps->items[i].addr, addr)) {
                        ps->items[i].kinds |= kinds;
                        return 0;
                }
        if (ps->n == ps->allocated) {
                size_t want = ps->allocated ? 2 * ps->allocated : 32;
                struct peer *p = realloc(ps->items, want * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                ps->items = p;
                ps->allocated = want;
        }
        ps->items[ps->n++] = (struct peer){ *addr, port, kinds };
        return 0;
}

static int compare_peers(const void *a, const void *b)
{
        const struct peer *x = a, *y = b;
        int c = nd_addr_compare(&x->addr, &y->addr);
        return c ? c : (int)x->port - (int)y->port;
}

static bool is_own(const struct nd_addr *a, const char *const *own, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                struct nd_addr o;
                if (nd_addr_parse(own[i], &o) == 0 && nd_addr_equal(&o, a))
                        return true;
        }
        return false;
}

int nd_peer_list_build(const char *host, const char *const *own_addrs, size_t n_own,
                       const struct nd_server_list *servers, const struct nd_peer_rules *rules,
                       unsigned discovered_kinds, json_t **ret)
{
        struct peers ps = {};
        json_t *list = NULL, *root;
        int r = 0;

        for (size_t i = 0; r == 0 && i < servers->n; i++) {
                struct nd_addr a;
                if (nd_addr_parse(servers->items[i].addr, &a) < 0 || nd_addr_is_loopback(&a) ||
                    is_own(&a, own_addrs, n_own) || servers->items[i].port == 0)
                        continue;
                r = peers_add(&ps, &a, servers->items[i].port, discovered_kinds);
        }
        for (size_t i = 0; r == 0 && rules && i < rules->n; i++) {
                const struct nd_peer_rule *rule = &rules->items[i];

                if (fnmatch(rule->host_glob, host, FNM_CASEFOLD) != 0)
                        continue;
                if (!rule->exclude) {
                        r = peers_add(&ps, &rule->addr, rule->port > 0 ? (uint16_t)rule->port : 0, rule->kinds);
                        continue;
                }
                for (size_t k = 0; k < ps.n; k++)
                        if (nd_addr_equal(&ps.items[k].addr, &rule->addr) &&
                            (rule->port < 0 || rule->port == ps.items[k].port))
                                ps.items[k].kinds &= ~rule->kinds;
        }
        if (r == 0 && ps.n > 1)
                qsort(ps.items, ps.n, sizeof(*ps.items), compare_peers);
        if (r == 0 && !(list = json_array()))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < ps.n; i++) {
                const struct peer *p = &ps.items[i];
                char text[ND_ADDR_STRLEN];
                unsigned kinds = p->port ? p->kinds : p->kinds & ND_PEER_ICMP;

                if (!kinds)
                        continue;
                if (json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "addr", nd_addr_format(&p->addr, text),
                                                          "port", (int)p->port, "kind",
                                                          nd_peer_kinds_name(kinds))) < 0)
                        r = -ENOMEM;
        }
        free(ps.items);
        if (r < 0) {
                json_decref(list);
                return r;
        }
        root = json_pack("{s:s, s:o}", "host", host, "peers", list);
        if (!root)
                return -ENOMEM;
        *ret = root;
        return 0;
}
