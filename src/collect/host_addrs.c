#include "collect/host_addrs.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "collect/netns.h"
#include "model/addr.h"
#include "shared/log.h"
#include "shared/strmap.h"

static void free_addrs(char **addrs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(addrs[i]);
        free(addrs);
}

void nd_host_addrs_done(struct nd_host_addrs *h)
{
        free_addrs(h->addrs, h->n_addrs);
        for (size_t i = 0; i < h->n_named; i++) {
                free(h->named[i].name);
                free_addrs(h->named[i].addrs, h->named[i].n_addrs);
        }
        free(h->named);
        *h = (struct nd_host_addrs){};
}

static int push_addr(char ***addrs, size_t *n, const char *addr)
{
        char **p = reallocarray(*addrs, *n + 1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        *addrs = p;
        if (!(p[*n] = strdup(addr)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* Appends the addresses of the calling thread's namespace that seen does
 * not hold yet. */
static int add_here(struct strmap *seen, char ***addrs, size_t *n)
{
        struct ifaddrs *ifa_list;
        int r = 0;

        if (getifaddrs(&ifa_list) < 0)
                return -errno;
        for (struct ifaddrs *ifa = ifa_list; ifa && r >= 0; ifa = ifa->ifa_next) {
                struct nd_addr a;
                char buf[ND_ADDR_STRLEN];

                if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK))
                        continue;
                if (ifa->ifa_addr->sa_family == AF_INET)
                        nd_addr_from_ipv4(&a, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr);
                else if (ifa->ifa_addr->sa_family == AF_INET6)
                        nd_addr_from_ipv6(&a, &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr);
                else
                        continue;
                r = strmap_put(seen, nd_addr_format(&a, buf), 0, NULL);
                if (r > 0)
                        r = push_addr(addrs, n, buf);
        }
        freeifaddrs(ifa_list);
        return r < 0 ? r : 0;
}

struct walk {
        const struct nd_netns_list *list;
        uint64_t home;
        struct strmap *seen;
        struct nd_host_addrs *out;
        int r; /* -ENOMEM stops the walk; a namespace it cannot read does not */
};

/* Runs in a thread of its own: setns() moves only the calling thread, and
 * this one ends wherever the walk left it rather than having to find its
 * way back. */
static void *walk_main(void *arg)
{
        struct walk *w = arg;

        for (size_t i = 0; i < w->list->n && w->r >= 0; i++) {
                const struct nd_netns *ns = &w->list->items[i];
                struct nd_host_addrs *out = w->out;
                int r;

                if (ns->inode == w->home)
                        continue;
                r = nd_netns_enter_path(ns->path);
                if (r < 0) {
                        log_debug_errno(r, "Failed to enter network namespace %s, its addresses are left out: %m",
                                        ns->path);
                        continue;
                }
                if (!ns->name) {
                        r = add_here(w->seen, &out->addrs, &out->n_addrs);
                } else {
                        struct nd_named_addrs *named = reallocarray(out->named, out->n_named + 1, sizeof(*named));
                        struct nd_named_addrs *g;

                        if (!named) {
                                w->r = -ENOMEM;
                                break;
                        }
                        out->named = named;
                        g = &named[out->n_named];
                        *g = (struct nd_named_addrs){ .name = strdup(ns->name) };
                        if (!g->name) {
                                w->r = -ENOMEM;
                                break;
                        }
                        r = add_here(w->seen, &g->addrs, &g->n_addrs);
                        if (g->n_addrs > 0)
                                out->n_named++;
                        else {
                                free(g->name);
                                free(g->addrs);
                        }
                }
                if (r == -ENOMEM)
                        w->r = r;
                else if (r < 0)
                        log_debug_errno(r, "Failed to list the addresses of network namespace %s: %m", ns->path);
        }
        return NULL;
}

int nd_host_addrs_collect(bool all_netns, const char *proc_root, const char *run_netns_dir,
                          struct nd_host_addrs *ret)
{
        struct nd_host_addrs h = {};
        struct nd_netns_list list = {};
        struct strmap seen;
        pthread_t thread;
        int r;

        strmap_init(&seen);
        r = add_here(&seen, &h.addrs, &h.n_addrs);
        if (r >= 0 && all_netns) {
                struct walk w = { .list = &list, .seen = &seen, .out = &h };

                r = nd_netns_current(&w.home);
                if (r >= 0)
                        r = nd_netns_discover(proc_root ? proc_root : "/proc",
                                              run_netns_dir ? run_netns_dir : "/run/netns", &list);
                if (r >= 0) {
                        r = -pthread_create(&thread, NULL, walk_main, &w);
                        if (r >= 0) {
                                pthread_join(thread, NULL);
                                r = w.r;
                        }
                }
        }
        nd_netns_list_done(&list);
        strmap_done(&seen);
        if (r < 0) {
                nd_host_addrs_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}
