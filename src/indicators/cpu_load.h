/* The host's load: /proc/loadavg, and the busy share of all CPUs from the
 * aggregate "cpu" line of /proc/stat.
 *
 * The proc root is a parameter so that tests can point it at recorded
 * files. Parsers are pure; the readers only add the file. */
#pragma once

#include <stdint.h>

struct nd_loadavg {
        double load1, load5, load15;
};

/* The CPU time counters of /proc/stat's "cpu" line, in ticks. */
struct nd_cpu_times {
        uint64_t busy;  /* everything but idle and iowait */
        uint64_t total; /* user..steal; guest time is already inside user */
};

/* "1.62 0.48 0.17 1/91 22373" -> the three averages. -EINVAL otherwise. */
int nd_loadavg_parse(const char *text, struct nd_loadavg *ret);
/* proc_root NULL means "/proc". */
int nd_loadavg_read(const char *proc_root, struct nd_loadavg *ret);

/* The whole of /proc/stat in, its aggregate line out. -EINVAL without one. */
int nd_cpu_times_parse(const char *text, struct nd_cpu_times *ret);
int nd_cpu_times_read(const char *proc_root, struct nd_cpu_times *ret);

/* The busy fraction (0..1) between an earlier and a later reading.
 * -ERANGE when no tick passed or a counter went back (a different host's
 * numbers, or a wrapped counter): there is no honest fraction then. */
int nd_cpu_busy_between(const struct nd_cpu_times *before, const struct nd_cpu_times *after, double *ret);
