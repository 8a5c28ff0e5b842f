/* indicators-run: samples the host indicators N times, M ms apart, and
 * prints each sample as one JSON line (what nd_indicator_sample_to_json
 * gives, plus "interval_ms"), flushed at once so that a script can act
 * after the first.
 *
 *   indicators-run [--nginx-status URL] [--access-log PATH] [--proc-root DIR]
 *                  [--samples N] [--every-ms M] [--debug]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "indicators/indicators.h"
#include "shared/log.h"
#include "shared/parse.h"

static void sleep_until(const struct timespec *start, long long ms)
{
        struct timespec t = {
                .tv_sec = start->tv_sec + ms / 1000,
                .tv_nsec = start->tv_nsec + (ms % 1000) * 1000000,
        };

        if (t.tv_nsec >= 1000000000) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
                ;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "nginx-status", required_argument, NULL, 's' },
                { "access-log", required_argument, NULL, 'l' },
                { "proc-root", required_argument, NULL, 'p' },
                { "samples", required_argument, NULL, 'n' },
                { "every-ms", required_argument, NULL, 'e' },
                { "debug", no_argument, NULL, 'd' },
                {},
        };
        struct nd_indicators_options o = {};
        struct nd_indicators *ind = NULL;
        long long samples = 2, every_ms = 1000;
        struct timespec start;
        int c, r;

        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case 's':
                        o.nginx_status_url = optarg;
                        break;
                case 'l':
                        o.nginx_access_log = optarg;
                        break;
                case 'p':
                        o.proc_root = optarg;
                        break;
                case 'n':
                        if (parse_int_range(optarg, 1, 1000000, &samples) < 0) {
                                fprintf(stderr, "indicators-run: --samples wants 1..1000000\n");
                                return 2;
                        }
                        break;
                case 'e':
                        if (parse_int_range(optarg, 0, 3600000, &every_ms) < 0) {
                                fprintf(stderr, "indicators-run: --every-ms wants 0..3600000\n");
                                return 2;
                        }
                        break;
                case 'd':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                default:
                        fprintf(stderr, "usage: indicators-run [--nginx-status URL] [--access-log PATH] "
                                        "[--proc-root DIR] [--samples N] [--every-ms M] [--debug]\n");
                        return 2;
                }
        }

        r = nd_indicators_new(&o, &ind);
        if (r < 0) {
                fprintf(stderr, "indicators-run: %s\n", strerror(-r));
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (long long i = 0; i < samples; i++) {
                struct nd_indicator_sample s;
                json_t *j;

                if (i > 0)
                        sleep_until(&start, i * every_ms);
                r = nd_indicators_sample(ind, &s);
                if (r < 0)
                        break;
                j = nd_indicator_sample_to_json(&s);
                if (!j || json_object_set_new(j, "interval_ms", json_integer((json_int_t)s.interval_ms)) < 0 ||
                    json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9)) < 0) {
                        json_decref(j);
                        r = -ENOMEM;
                        break;
                }
                json_decref(j);
                putchar('\n');
                fflush(stdout);
        }
        nd_indicators_free(ind);
        if (r < 0) {
                fprintf(stderr, "indicators-run: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
