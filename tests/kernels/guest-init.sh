#!/bin/sh
# /init of the kernel matrix's qemu guest (kernel-matrix.sh builds the
# initramfs): busybox, netdep with its libraries, short-conns and
# check-bpf.sh. Mounts what netdep and its eBPF programs need, runs the
# check in a network namespace of its own, prints its output between
# markers on the serial console, and powers off.
export PATH=/bin
# The sanitizers as the test build runs them everywhere else.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t bpf bpf /sys/fs/bpf
# Not every kernel has tracefs (or builds it in); nothing here requires it.
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true

echo
echo "==== netdep check begin ===="
if ! unshare -n sh /check/check-bpf.sh /check/netdep /check/short-conns /tmp/check 2>&1; then
        # What the kernel said meanwhile (a WARN from the verifier, say).
        dmesg | grep -E "WARNING:|BUG:|Oops|RIP:|Call Trace|audit.*bpf" | tail -n 20 | sed 's/^/dmesg: /'
fi
echo "==== netdep check end ===="
poweroff -f
