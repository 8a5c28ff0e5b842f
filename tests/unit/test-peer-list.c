/* Peer lists: the servers a host's edges reached, plus the file's
 * additions, minus its exclusions; and the file's refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/peer_list.h"

static int parse(const char *text, struct nd_peer_rules *ret, char *why, size_t why_size)
{
        FILE *f = fmemopen((void *)text, strlen(text), "r");
        int r = nd_peer_rules_parse(f, ret, why, why_size);

        fclose(f);
        return r;
}

static void edge(struct nd_server_list *l, const char *server, uint16_t port)
{
        assert_int_equal(nd_server_list_push(l, server, port), 0);
}

static char *build(const char *host, const struct nd_server_list *edges, const struct nd_peer_rules *rules,
                   unsigned kinds)
{
        const char *own[] = { "10.0.1.1", "fd00::1" };
        json_t *list = NULL;
        char *text;

        assert_int_equal(nd_peer_list_build(host, own, 2, edges, rules, kinds, &list), 0);
        text = json_dumps(list, JSON_COMPACT);
        json_decref(list);
        return text;
}

static void test_from_edges_and_rules(void **state)
{
        struct nd_server_list edges = {};
        struct nd_peer_rules rules = {};
        char why[256], *text;

        edge(&edges, "10.0.2.1", 5432);
        edge(&edges, "10.0.2.1", 5432); /* two of its processes, one link */
        edge(&edges, "10.0.3.1", 6379);
        edge(&edges, "10.0.0.250", 9100);
        edge(&edges, "127.0.0.1", 8080); /* loopback: not a link */
        edge(&edges, "10.0.1.1", 8080); /* its own address */
        assert_int_equal(parse("# monitoring is a hub, not a dependency\n"
                               "*      exclude 10.0.0.250\n"
                               "web-*  add     10.0.9.1:53 tcp\n"
                               "web-*  add     [fd00::9]:443 both\n"
                               "db-*   add     10.0.9.2\n"
                               "web-*  exclude 10.0.3.1:6379 icmp\n",
                               &rules, why, sizeof(why)),
                         0);
        text = build("web-1", &edges, &rules, ND_PEER_BOTH);
        assert_string_equal(text, "{\"host\":\"web-1\",\"peers\":["
                                  "{\"addr\":\"10.0.2.1\",\"port\":5432,\"kind\":\"both\"},"
                                  "{\"addr\":\"10.0.3.1\",\"port\":6379,\"kind\":\"tcp\"},"
                                  "{\"addr\":\"10.0.9.1\",\"port\":53,\"kind\":\"tcp\"},"
                                  "{\"addr\":\"fd00::9\",\"port\":443,\"kind\":\"both\"}]}");
        free(text);
        text = build("db-1", &edges, &rules, ND_PEER_TCP);
        assert_string_equal(text, "{\"host\":\"db-1\",\"peers\":["
                                  "{\"addr\":\"10.0.2.1\",\"port\":5432,\"kind\":\"tcp\"},"
                                  "{\"addr\":\"10.0.3.1\",\"port\":6379,\"kind\":\"tcp\"},"
                                  "{\"addr\":\"10.0.9.2\",\"port\":0,\"kind\":\"icmp\"}]}");
        free(text);
        nd_peer_rules_done(&rules);
        nd_server_list_done(&edges);
}

static void refused(const char *text, const char *reason)
{
        struct nd_peer_rules rules = {};
        char why[256] = "";

        assert_int_equal(parse(text, &rules, why, sizeof(why)), -EINVAL);
        if (!strstr(why, reason))
                fail_msg("'%s': want '%s', got '%s'", text, reason, why);
        assert_null(rules.items);
}

static void test_refusals(void **state)
{
        refused("web add\n", "1: want 'HOSTGLOB");
        refused("\nweb remove 10.0.0.1\n", "2: 'remove': want add or exclude");
        refused("web add 10.0.0.300:80\n", "want ADDR, ADDR:PORT");
        refused("web add 10.0.0.1:0\n", "want ADDR, ADDR:PORT");
        refused("web add 10.0.0.1:80 udp\n", "want tcp, icmp or both");
        refused("web add 10.0.0.1 tcp\n", "a tcp link needs a port");
        refused("web add 10.0.0.1:80 tcp extra\n", "want 'HOSTGLOB");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_from_edges_and_rules),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
