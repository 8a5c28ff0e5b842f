#include "collect/sockdiag.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shared/cleanup.h"
#include "shared/log.h"

/* The kernel fills dump messages up to the reader's buffer size (at most
 * 32 KiB per skb in current kernels); a larger buffer costs nothing more. */
#define SOCKDIAG_RECV_BUFFER (64 * 1024)
#define SOCKDIAG_DUMP_RETRIES 3

struct nd_sockdiag {
        struct mnl_socket *nl;
        uint32_t seq;
        /* Set when a dump stopped before its end: unread messages may be
         * queued, so the socket is replaced before the next request. */
        bool stale;
        uint8_t buf[SOCKDIAG_RECV_BUFFER] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static void decode_tcp_info(const struct nlattr *attr, struct nd_sock *s)
{
        struct tcp_info info = {};
        size_t len = mnl_attr_get_payload_len(attr);

        /* Older kernels send a shorter struct; fields they lack stay 0. */
        memcpy(&info, mnl_attr_get_payload(attr), len < sizeof(info) ? len : sizeof(info));
        s->has_tcp_info = true;
        s->rtt_us = info.tcpi_rtt;
        s->retrans = info.tcpi_total_retrans;
        /* bytes_sent (4.19+) counts what left the host, retransmits included;
         * fall back to bytes_acked where the kernel does not report it. */
        if (len >= offsetof(struct tcp_info, tcpi_bytes_sent) + sizeof(info.tcpi_bytes_sent))
                s->bytes_sent = info.tcpi_bytes_sent;
        else
                s->bytes_sent = info.tcpi_bytes_acked;
        s->bytes_received = info.tcpi_bytes_received;
}

static int decode_attributes(const void *start, size_t size, struct nd_sock *s)
{
        const struct nlattr *attr = start;
        const char *end = (const char *)start + size;

        while ((const char *)attr < end) {
                if (!mnl_attr_ok(attr, (int)(end - (const char *)attr)))
                        return -EBADMSG;
                switch (mnl_attr_get_type(attr)) {
                case INET_DIAG_INFO:
                        decode_tcp_info(attr, s);
                        break;
                case INET_DIAG_SKV6ONLY:
                        if (mnl_attr_get_payload_len(attr) < 1)
                                return -EBADMSG;
                        s->v6only = mnl_attr_get_u8(attr) ? 1 : 0;
                        break;
                default:
                        break;
                }
                attr = mnl_attr_next(attr);
        }
        return 0;
}

static int decode_socket(const struct nlmsghdr *nlh, struct nd_sock *ret)
{
        const struct inet_diag_msg *msg = mnl_nlmsg_get_payload(nlh);
        size_t payload_len = mnl_nlmsg_get_payload_len(nlh);
        size_t header_len = MNL_ALIGN(sizeof(*msg));
        struct nd_sock s = { .v6only = -1 };
        int r;

        if (payload_len < sizeof(*msg))
                return -EBADMSG;

        switch (msg->idiag_family) {
        case AF_INET:
                nd_addr_from_ipv4(&s.local, msg->id.idiag_src);
                nd_addr_from_ipv4(&s.peer, msg->id.idiag_dst);
                break;
        case AF_INET6:
                nd_addr_from_ipv6(&s.local, msg->id.idiag_src);
                nd_addr_from_ipv6(&s.peer, msg->id.idiag_dst);
                break;
        default:
                return -EAFNOSUPPORT;
        }
        s.state = msg->idiag_state;
        s.local_port = ntohs(msg->id.idiag_sport);
        s.peer_port = ntohs(msg->id.idiag_dport);
        s.inode = msg->idiag_inode;
        s.uid = msg->idiag_uid;

        if (payload_len > header_len) {
                r = decode_attributes((const char *)msg + header_len, payload_len - header_len, &s);
                if (r < 0)
                        return r;
        }
        *ret = s;
        return 0;
}

int nd_sockdiag_decode(const void *buf, size_t len, nd_sock_fn fn, void *userdata)
{
        const struct nlmsghdr *nlh = buf;
        int remaining = len > INT32_MAX ? INT32_MAX : (int)len;
        int r;

        while (remaining > 0) {
                if (!mnl_nlmsg_ok(nlh, remaining))
                        return -EBADMSG;
                if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
                        return -EINTR;

                switch (nlh->nlmsg_type) {
                case NLMSG_DONE:
                        /* Some families append an error code to DONE. */
                        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
                                int err;
                                memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
                                if (err < 0)
                                        return err;
                        }
                        return 0;
                case NLMSG_ERROR: {
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
                                return -EBADMSG;
                        if (e->error < 0)
                                return e->error;
                        break; /* an ACK */
                }
                case SOCK_DIAG_BY_FAMILY:
                case TCPDIAG_GETSOCK: { /* the answer to an AF_UNSPEC dump */
                        struct nd_sock s;

                        r = decode_socket(nlh, &s);
                        if (r == -EAFNOSUPPORT)
                                break; /* not ours to interpret; skip it */
                        if (r < 0)
                                return r;
                        r = fn(&s, userdata);
                        if (r < 0)
                                return r;
                        break;
                }
                default:
                        break; /* NLMSG_NOOP and the like */
                }
                nlh = mnl_nlmsg_next(nlh, &remaining);
        }
        return 1;
}

static int open_socket(struct mnl_socket **ret)
{
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);

        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;
                mnl_socket_close(nl);
                return r;
        }
        *ret = nl;
        return 0;
}

int nd_sockdiag_open(struct nd_sockdiag **ret)
{
        _cleanup_free_ struct nd_sockdiag *sd = calloc(1, sizeof(*sd));
        int r;

        if (!sd)
                return -ENOMEM;
        r = open_socket(&sd->nl);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(sd);
        return 0;
}

/* Replaces a socket that may hold the rest of an abandoned dump. It must be
 * called in the namespace the socket was opened in, as every dump is. */
static int renew_socket(struct nd_sockdiag *sd)
{
        struct mnl_socket *nl = NULL;
        int r = open_socket(&nl);

        if (r < 0)
                return r;
        mnl_socket_close(sd->nl);
        sd->nl = nl;
        sd->stale = false;
        return 0;
}

struct nd_sockdiag *nd_sockdiag_free(struct nd_sockdiag *sd)
{
        if (!sd)
                return NULL;
        mnl_socket_close(sd->nl);
        free(sd);
        return NULL;
}

static int send_request(struct nd_sockdiag *sd, int family, uint32_t states, bool with_info)
{
        uint8_t buf[MNL_NLMSG_HDRLEN +
                    MNL_ALIGN(sizeof(union { struct inet_diag_req_v2 v2; struct inet_diag_req compat; }))] = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        uint8_t ext = with_info ? 1u << (INET_DIAG_INFO - 1) : 0;

        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = ++sd->seq;
        if (family == AF_UNSPEC) {
                /* Both families in one walk: the compatibility request,
                 * whose dump the kernel runs with sdiag_family AF_UNSPEC. */
                struct inet_diag_req *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));

                nlh->nlmsg_type = TCPDIAG_GETSOCK;
                req->idiag_family = AF_INET; /* ignored by the dump */
                req->idiag_states = states;
                req->idiag_ext = ext;
        } else {
                struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));

                nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
                req->sdiag_family = (uint8_t)family;
                req->sdiag_protocol = IPPROTO_TCP;
                req->idiag_states = states;
                req->idiag_ext = ext;
        }

        if (mnl_socket_sendto(sd->nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        return 0;
}

int nd_sockdiag_dump_recorded(struct nd_sockdiag *sd, int family, uint32_t states,
                              bool with_info, nd_sock_fn fn, void *userdata,
                              nd_sockdiag_record_fn record, void *record_userdata)
{
        int r;

        for (int attempt = 0; attempt < SOCKDIAG_DUMP_RETRIES; attempt++) {
                if (sd->stale) {
                        r = renew_socket(sd);
                        if (r < 0)
                                return r;
                }
                sd->stale = true;
                r = send_request(sd, family, states, with_info);
                if (r < 0)
                        return r;
                do {
                        ssize_t n = mnl_socket_recvfrom(sd->nl, sd->buf, sizeof(sd->buf));
                        if (n < 0)
                                return -errno;
                        if (n == 0)
                                return -ECONNRESET;
                        if (record) {
                                int rr = record(sd->buf, (size_t)n, record_userdata);
                                if (rr < 0)
                                        return rr;
                        }
                        r = nd_sockdiag_decode(sd->buf, (size_t)n, fn, userdata);
                } while (r == 1);

                if (r == 0)
                        sd->stale = false;
                if (r != -EINTR)
                        return r;
                log_debug("sock_diag dump was interrupted, retrying");
        }
        return r;
}

int nd_sockdiag_dump(struct nd_sockdiag *sd, int family, uint32_t states, bool with_info,
                     nd_sock_fn fn, void *userdata)
{
        return nd_sockdiag_dump_recorded(sd, family, states, with_info, fn, userdata, NULL, NULL);
}
