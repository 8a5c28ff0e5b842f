/* An IPv4 or IPv6 address, normalised so that equal hosts compare equal:
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as IPv4. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nd_addr {
        uint8_t family; /* AF_INET or AF_INET6 */
        uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
};

/* Large enough for any address nd_addr_format() writes, with its NUL. */
#define ND_ADDR_STRLEN INET6_ADDRSTRLEN

void nd_addr_from_ipv4(struct nd_addr *ret, const void *be32);
/* Folds ::ffff:a.b.c.d into the IPv4 form. */
void nd_addr_from_ipv6(struct nd_addr *ret, const void *be128);
/* Parses a textual address, either family; -EINVAL if it is not one. */
int nd_addr_parse(const char *s, struct nd_addr *ret);

bool nd_addr_is_any(const struct nd_addr *a);
bool nd_addr_is_loopback(const struct nd_addr *a);
/* RFC 1918, loopback, link-local, CGNAT (100.64/10), ULA (fc00::/7). */
bool nd_addr_is_private(const struct nd_addr *a);
bool nd_addr_equal(const struct nd_addr *a, const struct nd_addr *b);
/* A total order: IPv4 before IPv6, then numeric. */
int nd_addr_compare(const struct nd_addr *a, const struct nd_addr *b);

/* Writes the address into buf (at least ND_ADDR_STRLEN bytes); returns buf. */
const char *nd_addr_format(const struct nd_addr *a, char *buf);
/* "addr:port" or "[v6addr]:port"; port < 0 prints "many". */
const char *nd_addr_format_endpoint(const struct nd_addr *a, int port, char *buf, size_t size);
