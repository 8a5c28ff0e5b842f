/* TCP sockets of the current network namespace through NETLINK_SOCK_DIAG.
 *
 * The decoder is pure: it turns received bytes into struct nd_sock and can be
 * fed recorded dumps. The dumper owns the netlink socket and the I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "collect/sock.h"
#include "shared/cleanup.h"

/* Decodes one buffer of netlink messages as read from the socket.
 * Returns 1 if the dump continues, 0 at NLMSG_DONE, -EBADMSG on a truncated
 * or malformed message, -EINTR if the kernel flagged the dump inconsistent,
 * or the kernel's error from an NLMSG_ERROR. */
int nd_sockdiag_decode(const void *buf, size_t len, nd_sock_fn fn, void *userdata);

struct nd_sockdiag;

/* Opens a sock_diag socket in the calling thread's network namespace.
 * Returns -errno; *ret is written only on success. */
int nd_sockdiag_open(struct nd_sockdiag **ret);
struct nd_sockdiag *nd_sockdiag_free(struct nd_sockdiag *sd);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nd_sockdiag *, nd_sockdiag_free);

/* Dumps the TCP sockets of one family (AF_INET/AF_INET6), or of both
 * (AF_UNSPEC), whose state is in the states mask (ND_TCPF bits), calling fn
 * for each. tcp_info is asked for only when with_info is set. An
 * inconsistent dump (the kernel's NLM_F_DUMP_INTR) is retried a few times
 * before -EINTR is returned.
 *
 * AF_UNSPEC walks the kernel's socket hash tables once instead of twice:
 * the tables hold both families, and a per-family dump (the
 * SOCK_DIAG_BY_FAMILY request ss uses) walks all of them to skip the other
 * family's sockets. It is the older TCPDIAG_GETSOCK request, which the
 * kernel answers for every family; a kernel that refuses it gives -EINVAL
 * or -ENOENT, and the caller dumps each family instead. */
int nd_sockdiag_dump(struct nd_sockdiag *sd, int family, uint32_t states, bool with_info,
                     nd_sock_fn fn, void *userdata);

/* As nd_sockdiag_dump, but also hands every received buffer to record
 * (for tests that keep dumps as files). */
typedef int (*nd_sockdiag_record_fn)(const void *buf, size_t len, void *userdata);
int nd_sockdiag_dump_recorded(struct nd_sockdiag *sd, int family, uint32_t states,
                              bool with_info, nd_sock_fn fn, void *userdata,
                              nd_sockdiag_record_fn record, void *record_userdata);
