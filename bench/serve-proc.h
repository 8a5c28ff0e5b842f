/* netdep serve processes for a benchmark: a self-signed certificate, and
 * servers started with TLS on loopback ports, waited for until /readyz
 * answers, stopped with SIGTERM. */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct serve_setup {
        const char *netdep, *store_uri;
        const char *dir; /* the bench's temporary directory: certificate, logs */
        unsigned pool; /* --pool */
        /* Each serve gets a port no serve had: serve binds without
         * SO_REUSEADDR, and its predecessor's connections linger in
         * TIME_WAIT. */
        uint16_t next_port;
        char cert[PATH_MAX], key[PATH_MAX]; /* set by serve_make_certificate() */
};

/* A P-256 certificate for 127.0.0.1 and its key, made with openssl in
 * s->dir. */
int serve_make_certificate(struct serve_setup *s);

struct serve_proc {
        pid_t pid;
        uint16_t port;
        char base[64]; /* https://127.0.0.1:PORT */
        char flush_url[96];
        char log[PATH_MAX]; /* its standard error */
};

/* `netdep serve` on 127.0.0.1:s->next_port with TLS, the token file
 * tokens and --max-connections max_connections; returns once /readyz
 * answers 200. On failure its log's end goes to stderr. */
int serve_start(struct serve_setup *s, const char *tokens, const char *max_connections, struct serve_proc *ret);

/* SIGTERM, then waits (SIGKILL past a deadline). */
int serve_stop(struct serve_proc *p);

/* utime + stime of every process of p[0..n). */
uint64_t serves_cpu_ticks(const struct serve_proc *p, size_t n);
