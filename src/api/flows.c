#include "api/flows.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "collect/netns.h"
#include "collect/snapshot.h"
#include "collect/sock_source.h"
#include "collect/socket_owners.h"
#include "shared/cleanup.h"
#include "shared/log.h"

static bool is_unsupported(int r)
{
        return r == -EPROTONOSUPPORT || r == -EAFNOSUPPORT || r == -ENOENT || r == -EOPNOTSUPP;
}

static int collect_here(const struct nd_flows_options *o, uint64_t netns,
                        struct nd_socket_owners *owners, struct nd_listen_set *listeners,
                        struct nd_flow_set *flows, struct nd_flows_report *report)
{
        struct nd_sock_source src = {};
        struct nd_snapshot_counts counts = {};
        char proc_net[4096];
        int r = -EPROTONOSUPPORT;

        if (o->source != ND_SOURCE_PROCFS) {
                r = nd_sock_source_open_sockdiag(o->tcp_info, &src);
                if (r >= 0) {
                        report->source = src.ops->name;
                        r = nd_snapshot_collect(&src, netns, owners, listeners, flows, &counts);
                        nd_sock_source_close(&src);
                }
                if (r >= 0 || o->source == ND_SOURCE_SOCK_DIAG || !is_unsupported(r))
                        goto done;
                log_debug_errno(r, "sock_diag unavailable (%m), reading /proc/net/tcp");
                report->fell_back = true;
                report->fallback_reason = r;
                counts = (struct nd_snapshot_counts){};
        }

        snprintf(proc_net, sizeof(proc_net), "%s/thread-self/net", o->proc_root ? o->proc_root : "/proc");
        r = nd_sock_source_open_procnet(proc_net, &src);
        if (r < 0)
                return r;
        report->source = src.ops->name;
        r = nd_snapshot_collect(&src, netns, owners, listeners, flows, &counts);
        nd_sock_source_close(&src);
done:
        if (r < 0)
                return r;
        report->namespaces++;
        report->sockets += counts.sockets;
        report->unowned += counts.unowned;
        return 0;
}

static int collect_all_netns(const struct nd_flows_options *o, struct nd_socket_owners *owners,
                             struct nd_listen_set *listeners, struct nd_flow_set *flows,
                             struct nd_flows_report *report)
{
        struct nd_netns_list list = {};
        _cleanup_close_ int home = -EBADF;
        int r, rr;

        home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (home < 0)
                return log_debug_errno(errno, "Failed to open own network namespace: %m");
        r = nd_netns_discover(o->proc_root ? o->proc_root : "/proc",
                              o->run_netns_dir ? o->run_netns_dir : "/run/netns", &list);
        if (r < 0)
                return r;

        for (size_t i = 0; i < list.n && r >= 0; i++) {
                r = nd_netns_enter_path(list.items[i].path);
                if (r == -ENOENT || r == -ESRCH) {
                        report->namespaces_gone++; /* its last process exited */
                        r = 0;
                        continue;
                }
                if (r < 0) {
                        log_debug_errno(r, "Failed to enter network namespace %s: %m", list.items[i].path);
                        break;
                }
                r = collect_here(o, list.items[i].inode, owners, listeners, flows, report);
        }

        /* Always go home, whatever happened above. */
        rr = nd_netns_enter_fd(home);
        nd_netns_list_done(&list);
        return r < 0 ? r : rr;
}

static bool keep_flow(const struct nd_flow *f, void *userdata)
{
        const struct nd_flows_options *o = userdata;

        if (o->no_loopback && (nd_addr_is_loopback(&f->peer) || nd_addr_is_loopback(&f->local)))
                return false;
        switch (o->peer_filter) {
        case ND_PEER_PUBLIC:
                return !nd_addr_is_private(&f->peer);
        case ND_PEER_PRIVATE:
                return nd_addr_is_private(&f->peer);
        default:
                return true;
        }
}

int nd_flows_collect(const struct nd_flows_options *o, struct nd_flow_set *ret,
                     struct nd_flows_report *report)
{
        struct nd_socket_owners local_owners, *owners = o->owners ? o->owners : &local_owners;
        struct nd_listen_set listeners;
        struct nd_flow_set flows;
        uint64_t netns;
        int r;

        *report = (struct nd_flows_report){};
        nd_socket_owners_init(&local_owners);
        nd_listen_set_init(&listeners);
        nd_flow_set_init(&flows);

        if (o->processes) {
                const char *proc = o->proc_root ? o->proc_root : "/proc";
                r = o->owners ? nd_socket_owners_refresh(owners, proc) : nd_socket_owners_scan(owners, proc);
                if (r < 0)
                        goto finish;
                report->procs_denied = owners->denied;
        }

        if (o->all_netns)
                r = collect_all_netns(o, o->processes ? owners : NULL, &listeners, &flows, report);
        else {
                r = nd_netns_current(&netns);
                if (r >= 0)
                        r = collect_here(o, netns, o->processes ? owners : NULL, &listeners, &flows, report);
        }
        if (r < 0)
                goto finish;

        nd_flow_set_filter(&flows, keep_flow, (void *)o);
        nd_flow_set_sort(&flows);
        *ret = flows;
        nd_flow_set_init(&flows);
finish:
        nd_flow_set_done(&flows);
        nd_listen_set_done(&listeners);
        nd_socket_owners_done(&local_owners);
        return r;
}
