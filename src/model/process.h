/* A process that owns sockets. */
#pragma once

#include <sys/types.h>

#define ND_PROCESS_NAME_MAX 16 /* the kernel's TASK_COMM_LEN */

struct nd_process {
        pid_t pid;
        pid_t pgid;
        char name[ND_PROCESS_NAME_MAX];
        char *cgroup; /* the cgroup path, a container hint; may be NULL */
};
