#include "bench-util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "load-util.h"
#include "shared/cleanup.h"
#include "shared/parse.h"

volatile sig_atomic_t bench_interrupted;

static void on_signal(int sig)
{
        bench_interrupted = sig;
}

void bench_catch_signals(void)
{
        struct sigaction sa = { .sa_handler = on_signal };

        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
}

void remove_temp_dir(const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.')
                        unlinkat(dirfd(d), de->d_name, 0);
        rmdir(dir);
}

int bench_error(int r, const char *fmt, ...)
{
        int saved = errno;
        va_list ap;

        errno = r < 0 ? -r : r;
        fprintf(stderr, "%s: ", program_invocation_short_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        errno = saved;
        return r < 0 ? r : -r;
}

int bench_parse_uint(const char *s, long long min, long long max, unsigned *ret)
{
        long long v;
        int r = parse_int_range(s, min, max, &v);

        if (r < 0)
                return r;
        *ret = (unsigned)v;
        return 0;
}

int parse_agent_modes(const char *s, const char *ret[static AGENT_MODES_MAX], size_t *ret_n)
{
        static const char *const known[] = { "polling", "streaming", "hybrid" };
        const char *modes[AGENT_MODES_MAX];
        char buf[64], *save = NULL;
        size_t n = 0;

        if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
                return -EINVAL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                size_t k = 0;

                while (k < ELEMENTSOF(known) && strcmp(tok, known[k]) != 0)
                        k++;
                if (k == ELEMENTSOF(known) || n == AGENT_MODES_MAX)
                        return -EINVAL;
                modes[n++] = known[k];
        }
        if (n == 0)
                return -EINVAL;
        memcpy(ret, modes, n * sizeof(*modes));
        *ret_n = n;
        return 0;
}

int sleep_until(double until, const volatile sig_atomic_t *interrupted)
{
        for (;;) {
                double left = until - monotonic_s();

                if (interrupted && *interrupted)
                        return -EINTR;
                if (left <= 0)
                        return 0;
                poll(NULL, 0, left > 0.25 ? 250 : (int)(left * 1000) + 1);
        }
}

double cpu_seconds(const struct rusage *ru)
{
        return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec +
               (double)ru->ru_stime.tv_usec / 1e6;
}

pid_t fork_child(void)
{
        pid_t parent = getpid(), pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0)
                return pid;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        return 0;
}

int spawn(const char *const *argv, int out_fd, int err_fd, pid_t *ret)
{
        pid_t pid = fork_child();

        if (pid < 0)
                return pid;
        if (pid == 0) {
                signal(SIGPIPE, SIG_DFL);
                if ((out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0) ||
                    (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0))
                        _exit(127);
                execvp(argv[0], (char *const *)argv);
                fprintf(stderr, "%s: Failed to run %s: %m\n", program_invocation_short_name, argv[0]);
                _exit(127);
        }
        *ret = pid;
        return 0;
}

int reap(pid_t pid, double deadline, const volatile sig_atomic_t *interrupted, int *ret_status,
         struct rusage *ret_ru)
{
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int status, r = pidfd < 0 ? -errno : 0;

        while (r == 0) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                double left = deadline - monotonic_s();

                if (interrupted && *interrupted)
                        r = -EINTR;
                else if (left <= 0)
                        r = -ETIMEDOUT;
                else if (poll(&p, 1, (int)(left * 1000) + 1) > 0)
                        break; /* it exited */
        }
        if (r < 0)
                kill(pid, SIGKILL);
        while (wait4(pid, &status, 0, ret_ru) < 0)
                if (errno != EINTR)
                        return -errno;
        if (ret_status)
                *ret_status = status;
        return r;
}

int pin_to_cpu(int cpu)
{
        cpu_set_t set;

        if (cpu < 0)
                return 0;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

bool exited_ok(int status)
{
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void kill_and_reap(pid_t *pids, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (pids[i] > 0)
                        kill(pids[i], SIGKILL);
        /* SIGKILL cannot be ignored: each wait ends. */
        for (size_t i = 0; i < n; i++)
                if (pids[i] > 0) {
                        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
                                ;
                        pids[i] = 0;
                }
}

int compare_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

double median(double *v, size_t n)
{
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int sample_proc(pid_t pid, struct proc_sample *ret)
{
        char path[64], line[256], buf[1024];
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct proc_sample s = {};
        unsigned long utime, stime;
        const char *p;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "VmRSS: %ld kB", &s.rss_kib);
                sscanf(line, "VmHWM: %ld kB", &s.hwm_kib);
        }

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -ESRCH;
        buf[n] = 0;
        /* Fields 14 and 15, counted after the ")" that ends the comm field. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
                return -EIO;
        s.cpu_ticks = (uint64_t)utime + stime;
        *ret = s;
        return 0;
}

double ticks_to_seconds(uint64_t ticks)
{
        long per_s = sysconf(_SC_CLK_TCK);

        return per_s > 0 ? (double)ticks / (double)per_s : 0;
}

long self_maxrss_kib(void)
{
        struct rusage ru;

        return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

void print_load(const char *when)
{
        double load[3];

        if (getloadavg(load, 3) == 3)
                printf("load average %s: %.2f %.2f %.2f (%ld CPUs)\n", when, load[0], load[1], load[2],
                       sysconf(_SC_NPROCESSORS_ONLN));
}

uint64_t ksoftirqd_ticks(void)
{
        _cleanup_closedir_ DIR *d = opendir("/proc");
        uint64_t sum = 0;
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char path[64], comm[32] = "";
                _cleanup_fclose_ FILE *f = NULL;
                struct proc_sample ps;
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (pid <= 0 || *end)
                        continue;
                snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
                f = fopen(path, "re");
                if (!f || !fgets(comm, sizeof(comm), f) || strncmp(comm, "ksoftirqd/", 10) != 0)
                        continue;
                if (sample_proc((pid_t)pid, &ps) == 0)
                        sum += ps.cpu_ticks;
        }
        return sum;
}

int machine_ticks(uint64_t *ret_busy, uint64_t *ret_total)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
        unsigned long long v[8] = {};

        if (!f)
                return -errno;
        /* user nice system idle iowait irq softirq steal */
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]) != 8)
                return -EIO;
        *ret_busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        *ret_total = *ret_busy + v[3] + v[4];
        return 0;
}

int loopback_listen(uint16_t port, int flags)
{
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

        /* The backlog is capped by somaxconn, which hold_enter_fresh_netns() raises. */
        return tcp_listen((struct sockaddr *)&addr, sizeof(addr), flags, -1, 65535, NULL);
}

int loopback_socket(uint64_t k)
{
        struct sockaddr_in src = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(k % LOOPBACK_SOURCES)) };

        return tcp_socket(AF_INET, (struct sockaddr *)&src, sizeof(src), NULL);
}
