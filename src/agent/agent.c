#include "agent/agent.h"

#include <curl/curl.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent/event_fold.h"
#include "agent/spool.h"
#include "agent/writer.h"
#include "model/edge_batch.h"
#include "shared/cleanup.h"
#include "shared/log.h"

#define FINAL_FLUSH_TIMEOUT_MS 10000
#define EVENT_DRAIN_MS 20

static const char *const mode_names[] = {
        [ND_AGENT_MODE_AUTO] = "auto",
        [ND_AGENT_MODE_POLLING] = "polling",
        [ND_AGENT_MODE_STREAMING] = "streaming",
        [ND_AGENT_MODE_HYBRID] = "hybrid",
};

const char *nd_agent_mode_to_string(enum nd_agent_mode m)
{
        return (size_t)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : NULL;
}

int nd_agent_mode_from_string(const char *s, enum nd_agent_mode *ret)
{
        for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
                if (strcmp(s, mode_names[i]) == 0) {
                        *ret = (enum nd_agent_mode)i;
                        return 0;
                }
        return -EINVAL;
}

static uint64_t now_ms(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Turns the batch into a flush the writer owns; the batch is emptied. */
static int make_flush(const struct nd_agent_options *o, struct nd_edge_batch *b, struct nd_flush **ret)
{
        struct nd_flush *f = calloc(1, sizeof(*f));
        char hostname[256];

        if (!f)
                return -ENOMEM;
        if (o->hostname)
                snprintf(hostname, sizeof(hostname), "%s", o->hostname);
        else if (gethostname(hostname, sizeof(hostname)) < 0)
                strcpy(hostname, "unknown");
        f->hostname = strdup(hostname);
        f->ts = b->last_ts;
        f->first_ts = b->first_ts;
        f->n_rows = b->n;
        f->rows = malloc((b->n ? b->n : 1) * sizeof(*f->rows));
        if (!f->hostname || !f->rows) {
                nd_flush_free(f);
                return -ENOMEM;
        }
        if (b->n > 0)
                memcpy(f->rows, b->rows, b->n * sizeof(*f->rows));
        /* The addresses the store maps to this host (and, with every
         * namespace, each named one's to its name), so that `look --host`
         * finds their edges; none when they cannot be listed. */
        (void)nd_host_addrs_collect(o->collect.all_netns, o->collect.proc_root, o->collect.run_netns_dir,
                                    &f->addrs);
        nd_edge_batch_clear(b);
        *ret = f;
        return 0;
}

/* Where a running agent's flows come from: the scans (polling), or the
 * eBPF collector (streaming, hybrid): its events for the connections
 * opened and failed, its listing of the sockets it follows for those open. */
struct sources {
        enum nd_agent_mode mode; /* POLLING, STREAMING or HYBRID */
        struct nd_flows_options collect;
        struct nd_tcp_events *events; /* NULL in polling mode */
        /* With events: the connections open come from sock_diag scans, not
         * from the collector's listing (which the kernel refused, or which
         * would miss the connections it could not adopt). */
        bool scan_open;
        bool adopted; /* the connections open at start are followed too */
        struct nd_event_fold fold;
        struct nd_tcp_events_stats reported; /* counters at the last warning */
        bool warned_denied; /* that process attribution is partial */
        /* The last listing (or scan), reused while the collector's change
         * count says it still holds, and at most until refresh_ms old: then
         * it is taken again for fresh bytes, RTT and retransmits. */
        struct nd_flow_set listed;
        bool have_listed;
        uint64_t listed_changes, listed_at_ms, refresh_ms;
        unsigned long listed_sockets;
};

/* The connections open: from the collector's listing, or from a scan
 * where the listing is off. Looked at again only when something changed
 * or the last look is refresh_ms old, copied from the last look
 * otherwise, so that a quiet interval costs next to nothing however many
 * connections are open. A scan is skipped so only when the collector
 * follows every connection (it adopted those open at start). */
static int open_connections(struct sources *src, struct nd_flow_set *flows, struct nd_flows_report *report)
{
        uint64_t now = now_ms(CLOCK_MONOTONIC), changes = 0;
        bool counted = !src->scan_open || src->adopted;
        int r;

        if (counted) {
                r = nd_tcp_events_changes(src->events, &changes);
                if (r < 0)
                        return r;
                if (src->have_listed && changes == src->listed_changes && now - src->listed_at_ms < src->refresh_ms) {
                        report->sockets = src->listed_sockets;
                        return nd_flow_set_copy(flows, &src->listed);
                }
        }
        if (src->scan_open)
                r = nd_flows_collect(&src->collect, flows, report);
        else {
                r = nd_tcp_events_list_open(src->events, nd_event_fold_open_connection, flows);
                if (r >= 0)
                        report->sockets = (unsigned long)r;
        }
        if (r < 0 || !counted)
                return r;
        nd_flow_set_done(&src->listed);
        src->have_listed = false;
        r = nd_flow_set_copy(&src->listed, flows);
        if (r < 0)
                return r;
        src->have_listed = true;
        src->listed_changes = changes;
        src->listed_at_ms = now;
        src->listed_sockets = report->sockets;
        return 0;
}

/* The agent's own active connections: its probes, and its posts to the
 * server (by address too, for a connection whose owner a scan missed). A
 * probed link must not keep itself in the graph, and so in the peer list,
 * after the application that used it is gone. */
struct own {
        pid_t pid;
        bool has_server;
        struct nd_addr server;
        uint16_t server_port;
};

static bool not_own(const struct nd_flow *f, void *userdata)
{
        const struct own *own = userdata;

        if (f->direction != ND_DIRECTION_ACTIVE)
                return true;
        if (f->has_process && f->process.pid == own->pid)
                return false;
        return !(own->has_server && f->peer_port == own->server_port && nd_addr_equal(&f->peer, &own->server));
}

/* The server's address and port, when its URL names them numerically. */
static void own_of(const struct nd_agent_options *o, struct own *ret)
{
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL;

        *ret = (struct own){ .pid = getpid() };
        if (u && curl_url_set(u, CURLUPART_URL, o->dest.server_url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
                size_t len = strlen(host);
                if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
                        memmove(host, host + 1, len - 2);
                        host[len - 2] = '\0';
                }
                ret->has_server = nd_addr_parse(host, &ret->server) == 0;
                ret->server_port = (uint16_t)atoi(port);
        }
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
}

static int take_snapshot(const struct nd_agent_options *o, struct sources *src, struct nd_edge_batch *b)
{
        struct nd_flow_set flows;
        struct nd_flows_report report = {};
        uint64_t start = now_ms(CLOCK_MONOTONIC);
        int r;

        if (src->events) {
                /* Up to the moment of the listing: a connection opened and
                 * closed since the last one is counted as opened. */
                r = nd_tcp_events_consume(src->events, nd_event_fold_event, &src->fold);
                if (r < 0)
                        return r;
                nd_flow_set_init(&flows);
                r = open_connections(src, &flows, &report);
                if (r >= 0)
                        r = nd_event_fold_into(&src->fold, &flows);
                /* The server side of an edge is the listener's owner. */
                if (r >= 0)
                        nd_event_fold_listener_owners(&src->fold, &flows);
        } else
                r = nd_flows_collect(&src->collect, &flows, &report);
        /* Edges stored without their processes look like edges of nobody:
         * say why, once. */
        if (r >= 0 && src->collect.processes && report.procs_denied > 0 && !src->warned_denied) {
                log_warning("agent: process attribution is partial: the fds of %u processes are not readable%s; "
                            "their edges are stored without a process",
                            report.procs_denied, geteuid() != 0 ? " without root" : "");
                src->warned_denied = true;
        }
        if (r >= 0 && o->probe.interval_ms && o->dest.server_url) {
                struct own own;
                own_of(o, &own);
                nd_flow_set_filter(&flows, not_own, &own);
        }
        if (r >= 0)
                r = nd_edge_batch_add_snapshot(b, &flows, (int64_t)(now_ms(CLOCK_REALTIME) / 1000),
                                               o->keep_loopback);
        log_debug("snapshot: %lu connections, %zu flows, %zu edges pending, %llu ms", report.sockets, flows.n,
                  b->n, (unsigned long long)(now_ms(CLOCK_MONOTONIC) - start));
        nd_flow_set_done(&flows);
        return r;
}

/* One warning per flush at most, when the collector dropped something. */
static void report_event_losses(struct sources *src)
{
        struct nd_tcp_events_stats now;

        if (!src->events || nd_tcp_events_stats(src->events, &now) < 0)
                return;
        uint64_t lost = now.lost - src->reported.lost, missed = now.untracked - src->reported.untracked,
                 skipped = now.skipped - src->reported.skipped;
        if (lost || missed || skipped) {
                char what[300] = "";
                size_t n = 0;

                if (lost)
                        n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%llu events lost (ring buffer full)",
                                              n ? ", " : "", (unsigned long long)lost);
                if (missed && n < sizeof(what))
                        n += (size_t)snprintf(what + n, sizeof(what) - n,
                                              "%s%llu connections not followed (max-sockets reached)", n ? ", " : "",
                                              (unsigned long long)missed);
                if (skipped && n < sizeof(what))
                        snprintf(what + n, sizeof(what) - n,
                                 "%s%llu state changes not seen (the kernel skipped the program while "
                                 "another BPF program ran)",
                                 n ? ", " : "", (unsigned long long)skipped);
                log_warning("agent: eBPF: %s since the last flush; counts of connections opened may be low", what);
        }
        src->reported = now;
}

/* Picks the mode, loads the collector when it needs one, and says which in
 * one log line. Explicit streaming or hybrid without eBPF is an error. */
static int open_sources(const struct nd_agent_options *o, struct sources *src)
{
        struct nd_tcp_events_options events = o->events;
        const char *off_why;
        char why[300] = "";
        unsigned off, loaded, wanted;
        int r;

        src->mode = o->mode;
        src->collect = o->collect;
        nd_event_fold_init(&src->fold);
        if (o->mode == ND_AGENT_MODE_POLLING) {
                log_notice("agent: polling mode (mode=polling from %s): connections shorter than the "
                           "interval are not seen", o->mode_source ? o->mode_source : "the settings");
                return 0;
        }

        events.all_netns = o->collect.all_netns;
        events.adopt_open = o->mode != ND_AGENT_MODE_STREAMING;
        events.list_open = true;
        /* What the flows count; the open connections come from the
         * listing, and a close or a LISTEN change says nothing the listing
         * does not: not sending them saves the applications' time. */
        events.event_kinds = ND_TCP_EVENT_BIT(ND_TCP_EVENT_CONNECT) | ND_TCP_EVENT_BIT(ND_TCP_EVENT_ACCEPT) |
                             ND_TCP_EVENT_BIT(ND_TCP_EVENT_FAILED);
        r = nd_tcp_events_open(&events, &src->events, why, sizeof(why));
        if (r < 0) {
                src->events = NULL;
                if (o->mode != ND_AGENT_MODE_AUTO)
                        return log_error_errno(r, "agent: %s mode needs eBPF, which is unavailable: %s",
                                               nd_agent_mode_to_string(o->mode), why);
                src->mode = ND_AGENT_MODE_POLLING;
                log_notice("agent: polling mode: eBPF unavailable: %s", why);
                return 0;
        }

        src->mode = o->mode == ND_AGENT_MODE_STREAMING ? ND_AGENT_MODE_STREAMING : ND_AGENT_MODE_HYBRID;
        src->refresh_ms = o->flush_interval_ms;
        off = nd_tcp_events_features_off(src->events, &off_why);
        src->adopted = events.adopt_open && !(off & ND_TCP_EVENTS_ADOPTION);
        nd_tcp_events_programs(src->events, &loaded, &wanted);
        if (off & (ND_TCP_EVENTS_LISTING | ND_TCP_EVENTS_ADOPTION)) {
                /* Without its listing, or without the connections open at
                 * start, the collector cannot tell what is open: scans can. */
                src->scan_open = true;
                log_notice("agent: %s mode without %s; the connections open are scanned with sock_diag instead "
                           "(eBPF programs loaded: %u of %u)",
                           nd_agent_mode_to_string(src->mode), off_why, loaded, wanted);
                return 0;
        }
        if (off)
                log_notice("agent: %s mode without %s; connections accepted by servers started before the agent "
                           "are credited to them only once they close them (eBPF programs loaded: %u of %u)",
                           nd_agent_mode_to_string(src->mode), off_why, loaded, wanted);
        else if (src->mode == ND_AGENT_MODE_HYBRID)
                log_notice("agent: hybrid mode (eBPF programs loaded: %u of %u): eBPF events for every connection "
                           "opened and every failed connect, and the connections open listed from the sockets eBPF "
                           "follows (%s); those open at start were adopted from a walk of every open file",
                           loaded, wanted, nd_tcp_events_listing(src->events));
        else
                log_notice("agent: streaming mode: eBPF events only; connections opened before the agent started "
                           "are not seen (eBPF programs loaded: %u of %u)",
                           loaded, wanted);
        return 0;
}

static void close_sources(struct sources *src)
{
        src->events = nd_tcp_events_free(src->events);
        nd_flow_set_done(&src->listed);
        nd_event_fold_done(&src->fold);
}

/* --once: one snapshot, one flush, written directly: any failure is the
 * answer, so there is no queue and no retry. */
static int run_once(const struct nd_agent_options *o)
{
        struct nd_edge_batch b;
        struct nd_flush *f = NULL;
        struct nd_destination *dest = NULL;
        struct sources src = { .mode = ND_AGENT_MODE_POLLING, .collect = o->collect };
        char why[512];
        int r;

        /* One moment, so a scan: events would have nothing to tell. An
         * explicit hybrid or streaming mode loads the collector all the
         * same and lists what it follows: a check that it works here. */
        if (o->mode == ND_AGENT_MODE_HYBRID || o->mode == ND_AGENT_MODE_STREAMING) {
                r = open_sources(o, &src);
                if (r < 0) {
                        close_sources(&src);
                        return r;
                }
        }
        nd_edge_batch_init(&b);
        r = take_snapshot(o, &src, &b);
        close_sources(&src);
        if (r >= 0)
                r = make_flush(o, &b, &f);
        nd_edge_batch_done(&b);
        if (r < 0)
                return log_error_errno(r, "Failed to collect TCP sockets: %m");

        r = nd_destination_open(&o->dest, &dest, why, sizeof(why));
        if (r < 0) {
                char *shown = o->dest.server_url ? NULL : nd_store_redact_uri(o->dest.store_uri);
                if (o->dest.server_url)
                        log_error("Failed to set up server %s: %s", o->dest.server_url, why);
                else
                        log_error("Failed to open store %s: %s", shown ? shown : "(store)", why);
                free(shown);
        } else {
                size_t n_parts = 0, max = nd_destination_max_edges(&o->dest);
                struct nd_flush **parts = NULL;
                size_t n_edges = f->n_rows;
                unsigned retry_after_ms;

                r = nd_flush_split(f, max, &parts, &n_parts);
                f = NULL;
                for (size_t i = 0; r >= 0 && i < n_parts; i++)
                        r = nd_destination_write(dest, parts[i], &retry_after_ms, why, sizeof(why));
                if (r < 0)
                        log_error("Failed to write to %s: %s", nd_destination_name(dest), why);
                else
                        log_info("agent: %zu edges written to %s", n_edges, nd_destination_name(dest));
                for (size_t i = 0; i < n_parts; i++)
                        nd_flush_free(parts[i]);
                free(parts);
        }
        nd_destination_close(dest);
        nd_flush_free(f);
        return r;
}

/* What became of the flushes the store had not taken at stop: one line
 * each for those spooled, those lost for want of a spool, and those the
 * spool's bound dropped. */
static void report_spooling(const char *dir, const struct nd_writer_stats *s)
{
        if (s->spooled > 0)
                log_notice("agent: the store has not taken %zu flushes; spooled to %s for the next start",
                           s->spooled, dir);
        if (s->spool_failed > 0 && !dir)
                log_error("agent: %zu flushes lost: not written to the store, and no spool", s->spool_failed);
        else if (s->spool_failed > 0)
                log_error_errno(s->spool_error, "agent: %zu flushes lost: could not spool them to %s: %m",
                                s->spool_failed, dir);
        if (s->spool_dropped > 0)
                log_warning("agent: spool %s full (at most %d files, %llu MiB): dropped the %zu oldest flushes",
                            dir, ND_SPOOL_MAX_FILES, (unsigned long long)(ND_SPOOL_MAX_BYTES >> 20),
                            s->spool_dropped);
}

static int open_signalfd(sigset_t *ret_old)
{
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, ret_old) < 0)
                return -errno;
        int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

int nd_agent_run(const struct nd_agent_options *o)
{
        struct nd_edge_batch batch;
        struct nd_socket_owners owners;
        struct sources src = {};
        struct nd_writer *w = NULL;
        struct nd_probe_loop *probing = NULL;
        struct nd_writer_stats stats;
        sigset_t old_mask;
        _cleanup_close_ int sfd = -EBADF;
        uint64_t next_scan, next_flush, next_drain = 0;
        size_t max_queued, lost;
        uint64_t flushes = 0;
        bool ready = false; /* said so to systemd */
        int r = 0;

        if (o->once)
                return run_once(o);

        sfd = open_signalfd(&old_mask);
        if (sfd < 0)
                return log_error_errno(sfd, "Failed to set up signal handling: %m");
        r = open_sources(o, &src);
        if (r < 0) {
                close_sources(&src);
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                return r;
        }
        max_queued = (size_t)(o->queue_ms / (o->flush_interval_ms ? o->flush_interval_ms : 1));
        if (max_queued < 1)
                max_queued = 1;
        r = nd_writer_start(&o->dest, max_queued, o->retention_s, o->spool_dir, &w);
        if (r < 0) {
                close_sources(&src);
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                return log_error_errno(r, "Failed to start the writer: %m");
        }

        if (o->probe.interval_ms && o->dest.server_url) {
                struct nd_probe_loop_options po = o->probe;
                char hostname[256], why[512];

                if (o->hostname)
                        snprintf(hostname, sizeof(hostname), "%s", o->hostname);
                else if (gethostname(hostname, sizeof(hostname)) < 0)
                        strcpy(hostname, "unknown");
                po.server_url = o->dest.server_url;
                po.token_file = o->dest.token_file;
                po.ca_file = o->dest.ca_file;
                po.hostname = hostname;
                r = nd_probe_loop_start(&po, &probing, why, sizeof(why));
                if (r < 0)
                        log_warning("agent: not probing: %s", why);
                else
                        log_info("agent: probing this host's links every %llu ms",
                                 (unsigned long long)o->probe.interval_ms);
        }
        nd_edge_batch_init(&batch);
        /* Kept between scans: only what changed is looked at again. */
        nd_socket_owners_init(&owners);
        src.collect.owners = &owners;
        next_scan = now_ms(CLOCK_MONOTONIC);
        next_flush = next_scan + o->flush_interval_ms;
        log_info("agent: a snapshot every %llu ms, a flush every %llu ms, up to %zu flushes queued",
                 (unsigned long long)o->interval_ms, (unsigned long long)o->flush_interval_ms, max_queued);

        for (;;) {
                uint64_t now = now_ms(CLOCK_MONOTONIC);
                /* Events are drained at most every EVENT_DRAIN_MS: under a
                 * storm of connections the agent wakes 50 times a second, not
                 * once per event; the ring buffer holds the rest. */
                bool drain = src.events && now >= next_drain;
                struct pollfd pfd[2] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = drain ? nd_tcp_events_fd(src.events) : -1, .events = POLLIN },
                };
                uint64_t wake = src.events && !drain && next_drain < next_scan ? next_drain : next_scan;
                int timeout = wake > now ? (int)(wake - now) : 0;

                if (poll(pfd, 2, timeout) > 0) {
                        struct signalfd_siginfo si;
                        if ((pfd[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                log_info("agent: signal %u, writing a final flush", si.ssi_signo);
                                sd_notify(0, "STOPPING=1");
                                break;
                        }
                        if (pfd[1].revents & POLLIN) {
                                r = nd_tcp_events_consume(src.events, nd_event_fold_event, &src.fold);
                                if (r < 0 && r != -EINTR)
                                        log_warning_errno(r, "Failed to read eBPF events: %m");
                                next_drain = now_ms(CLOCK_MONOTONIC) + EVENT_DRAIN_MS;
                        }
                }
                if (now_ms(CLOCK_MONOTONIC) < next_scan)
                        continue;

                r = take_snapshot(o, &src, &batch);
                if (r < 0)
                        log_warning_errno(r, "Failed to take a snapshot: %m");
                else if (!ready) {
                        /* Under systemd (Type=notify): started once it sees. */
                        sd_notifyf(0, "READY=1\nSTATUS=collecting, writing to %s",
                                   o->dest.server_url ? o->dest.server_url : "the store");
                        ready = true;
                }
                /* A scan never overlaps the previous one: ticks missed while it
                 * ran are skipped, not queued up. */
                now = now_ms(CLOCK_MONOTONIC);
                next_scan += o->interval_ms;
                if (next_scan <= now)
                        next_scan = now + o->interval_ms;

                if (now >= next_flush && batch.seq > 0) {
                        struct nd_flush *f;
                        report_event_losses(&src);
                        if (make_flush(o, &batch, &f) >= 0) {
                                nd_writer_submit(w, f);
                                flushes++;
                        }
                        next_flush += o->flush_interval_ms;
                        if (next_flush <= now)
                                next_flush = now + o->flush_interval_ms;
                }
        }

        probing = nd_probe_loop_stop(probing);
        /* The events since the last scan belong in the final flush. */
        if (src.events && take_snapshot(o, &src, &batch) < 0)
                log_warning("agent: the events since the last snapshot could not be added");
        report_event_losses(&src);
        if (batch.seq > 0) {
                struct nd_flush *f;
                if (make_flush(o, &batch, &f) >= 0) {
                        nd_writer_submit(w, f);
                        flushes++;
                }
        }
        lost = nd_writer_stop(w, FINAL_FLUSH_TIMEOUT_MS, &stats);
        report_spooling(o->spool_dir, &stats);
        log_info("agent: %llu flushes made, %llu written, %llu dropped, %zu spooled", (unsigned long long)flushes,
                 (unsigned long long)stats.written, (unsigned long long)stats.dropped, stats.spooled);
        if (src.events) {
                struct nd_tcp_events_stats s = {};

                (void)nd_tcp_events_stats(src.events, &s);
                log_info("agent: eBPF: %llu connections opened, %llu failed connects, %llu closed",
                         (unsigned long long)src.fold.opened, (unsigned long long)src.fold.failed,
                         (unsigned long long)s.closed);
        }
        nd_edge_batch_done(&batch);
        nd_socket_owners_done(&owners);
        close_sources(&src);
        /* SIGTERM and SIGINT stay blocked: the agent is on its way out, and
         * a second signal (systemd and timeout(1) signal the process and
         * then its group) must not kill it after its final flush. */
        if (lost > 0)
                return stats.spool_error < 0 ? stats.spool_error : -ENOBUFS;
        return 0;
}
