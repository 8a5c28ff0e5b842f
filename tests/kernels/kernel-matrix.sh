#!/bin/bash
# The kernel matrix: does netdep's eBPF side load and work on the kernels
# Debian ships, not only on the one this machine runs? check-bpf.sh (a
# trace that must count 50 connections and 10 refused connects exactly,
# and a hybrid agent that must load every program) runs
#   - natively, on the running kernel, in a network namespace of its own;
#   - in qemu (TCG: no KVM needed) on each kernel of KERNELS, fetched from
#     deb.debian.org with a private apt state (the system's sources are
#     not touched) and kept in ND_KERNEL_CACHE, so a second run does not
#     download again.
# One line per kernel at the end: PASS, FAIL (with the reason) or SKIP (a
# kernel that could not be fetched; never counted as a pass). Exits 1 if
# any kernel failed.
#
#   NETDEP=build/netdep SHORT_CONNS=build/tests/short-conns ND_HAVE_BPF=1 \
#       tests/kernels/kernel-matrix.sh
#
# ND_KERNEL_CACHE: where the kernels are kept (default
# /var/cache/netdep-test-kernels); ND_DEBIAN_MIRROR: the Debian mirror
# (default http://deb.debian.org/debian); ND_KERNEL_KEEP=1 keeps the work
# directory (initramfs, serial console logs) and prints where it is.
set -euo pipefail

: "${NETDEP:?}" "${SHORT_CONNS:?}" "${ND_HAVE_BPF:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${ND_KERNEL_CACHE:-/var/cache/netdep-test-kernels}
MIRROR=${ND_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BOOT_SECONDS=180 # per boot, then qemu is killed
NATIVE_SECONDS=300

# SUITE and the package name (an extended regexp) of the kernel to boot:
# the newest that matches. These are the images the suite's
# linux-image-cloud-amd64 metapackage depends on; the cloud flavour is
# the smallest and boots without modules.
KERNELS=(
        'bookworm ^linux-image-6\.1\.0-[0-9]+-cloud-amd64$'
        'bookworm-backports ^linux-image-6\.12[^-]*-cloud-amd64$'
)

if [ "$ND_HAVE_BPF" != 1 ]; then
        echo "SKIP: netdep was built without eBPF"
        exit 77
fi
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: loading eBPF programs and network namespaces need root"
        exit 77
fi
for tool in qemu-system-x86_64 busybox cpio gzip apt-get apt-cache dpkg-deb ldd unshare; do
        command -v "$tool" >/dev/null || { echo "missing $tool (make deps installs it)" >&2; exit 1; }
done
# Run by meson with the test build's settings; by hand, the same ones.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

TMP=$(mktemp -d)
QEMU_PID=""
# shellcheck disable=SC2317 # run by the trap
cleanup() {
        if [ -n "$QEMU_PID" ]; then
                kill -KILL "$QEMU_PID" 2>/dev/null || true
                { wait "$QEMU_PID"; } 2>/dev/null || true
        fi
        if [ "${ND_KERNEL_KEEP:-0}" = 1 ]; then
                echo "kept: $TMP"
        else
                rm -rf "$TMP"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

RESULTS=()
FAILED=0
# result LINE: one kernel's verdict, for the summary.
result() {
        RESULTS+=("$1")
        echo "$1"
        case $1 in *": FAIL"*) FAILED=1 ;; esac
}

# --- The guest's root: busybox, the two programs with every library they
# --- link, the check, and /init. Also the native run's busybox.

ROOT=$TMP/root
mkdir -p "$ROOT"/{bin,check,dev,proc,sys,tmp}
cp "$(command -v busybox)" "$ROOT/bin/busybox"
# (ldd fails on a static executable.)
! ldd "$ROOT/bin/busybox" >/dev/null 2>&1 ||
        { echo "busybox is not static (install busybox-static)" >&2; exit 1; }
for applet in $(busybox --list); do
        [ -e "$ROOT/bin/$applet" ] || ln -s busybox "$ROOT/bin/$applet"
done

# copy_with_libs FILE DEST: FILE, and each library ldd resolves for it
# (the dynamic loader too) at its own path under the root.
copy_with_libs() {
        local lib
        if ldd "$1" | grep "not found" >&2; then
                echo "$1: a library it links is missing" >&2
                exit 1
        fi
        cp -L "$1" "$2"
        for lib in $(ldd "$1" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
                [ -e "$ROOT$lib" ] && continue
                mkdir -p "$ROOT$(dirname "$lib")"
                cp -L "$lib" "$ROOT$lib"
        done
}
copy_with_libs "$NETDEP" "$ROOT/check/netdep"
copy_with_libs "$SHORT_CONNS" "$ROOT/check/short-conns"
cp "$HERE/check-bpf.sh" "$ROOT/check/check-bpf.sh"
cp "$HERE/guest-init.sh" "$ROOT/init"
chmod 755 "$ROOT/init"
# The kernel opens /dev/console for /init before anything is mounted.
mknod -m 600 "$ROOT/dev/console" c 5 1
(cd "$ROOT" && find . | cpio -o -H newc --quiet) | gzip -1 >"$TMP/initrd.gz"
echo "initramfs: $(du -k "$TMP/initrd.gz" | cut -f1) KiB"

# show_check FILE: prints the check's output indented, and puts its
# verdict (the "result: " line) into VERDICT, empty if there is none.
show_check() {
        sed -n '/^result: /!s/^/    /p' "$1"
        VERDICT=$(sed -n 's/^result: //p' "$1" | tail -n 1)
}

# --- The running kernel, natively: the same check with the same busybox.

echo "== native: $(uname -r)"
start=$SECONDS
timeout -k 10 "$NATIVE_SECONDS" unshare -n env PATH="$ROOT/bin" "$ROOT/bin/busybox" sh "$HERE/check-bpf.sh" \
        "$NETDEP" "$SHORT_CONNS" "$TMP/native" >"$TMP/native.out" 2>&1 || true
show_check "$TMP/native.out"
[ -n "$VERDICT" ] || VERDICT="FAIL: the check gave no result (timed out after $NATIVE_SECONDS s?)"
result "kernel $(uname -r) (native): $VERDICT ($((SECONDS - start)) s)"

# --- Kernels from Debian.

# apt_options SUITE: sets APT_OPTIONS, for apt-get and apt-cache, to a
# state of their own in the cache whose only source is SUITE (so the
# candidates are SUITE's). The system's sources, lists and pins are left
# alone.
apt_options() {
        local dir=$CACHE/apt/$1
        mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
        echo "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $1 main" \
                >"$dir/sources.list"
        [ -e "$dir/status" ] || : >"$dir/status"
        APT_OPTIONS=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
                -o "Dir::State::Lists=$dir/lists" -o "Dir::State::Status=$dir/status"
                -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root
                -o Acquire::Languages=none -o Acquire::http::Timeout=30 -o Acquire::Retries=2
                -o APT::Update::Error-Mode=any)
}

# apt's first error in its log (or its last line).
apt_error() {
        { grep -m 1 "^E: " "$TMP/apt.log" || tail -n 1 "$TMP/apt.log"; } | sed 's/^E: //'
}

# fetch_kernel SUITE PATTERN: prints the path of the newest matching image
# .deb, downloaded into the cache unless it is there already. When the
# mirror cannot tell or give it, the newest one an earlier run cached, if
# any; else prints why not and fails.
fetch_kernel() {
        local suite=$1 pattern=$2 pkg="" version deb dl why
        apt_options "$suite"
        mkdir -p "$CACHE/debs"
        if timeout 180 apt-get "${APT_OPTIONS[@]}" -qq update >"$TMP/apt.log" 2>&1; then
                pkg=$(apt-cache "${APT_OPTIONS[@]}" pkgnames linux-image- | grep -E "$pattern" | sort -V | tail -n 1 || true)
                why="no package in $suite matches $pattern"
        else
                why="apt-get update for $suite failed: $(apt_error)"
        fi
        if [ -n "$pkg" ]; then
                version=$(apt-cache "${APT_OPTIONS[@]}" show --no-all-versions "$pkg" | sed -n 's/^Version: //p')
                deb=$CACHE/debs/${pkg}_${version//:/%3a}_amd64.deb
                if [ -s "$deb" ]; then
                        echo "$deb"
                        return 0
                fi
                # Into the cache only once complete and verified.
                dl=$(mktemp -d "$CACHE/debs/.download.XXXXXX")
                if (cd "$dl" && timeout 600 apt-get "${APT_OPTIONS[@]}" -qq download "$pkg=$version") \
                        >"$TMP/apt.log" 2>&1; then
                        mv "$dl"/*.deb "$deb"
                        rmdir "$dl"
                        echo "downloaded $pkg $version ($(du -m "$deb" | cut -f1) MiB)" >&2
                        echo "$deb"
                        return 0
                fi
                rm -rf "$dl"
                why="downloading $pkg $version failed: $(apt_error)"
        fi
        deb=$(find "$CACHE/debs" -maxdepth 1 -name 'linux-image-*.deb' -printf '%f\n' |
                grep -E "${pattern%\$}_" | sort -V | tail -n 1 || true)
        if [ -z "$deb" ]; then
                echo "$why, and no kernel of $suite in $CACHE"
                return 1
        fi
        echo "$why; using the cached $deb" >&2
        echo "$CACHE/debs/$deb"
}

# boot VMLINUZ LOG: the guest, until it powers off or BOOT_SECONDS pass;
# its serial console into LOG. The CPU has no CX16: Debian 12's qemu (7.2)
# now and then corrupts RFLAGS around cmpxchg16b under TCG, which 6.12's
# slab allocator runs on every allocation, and about one boot of 6.12 in
# three oopsed early; without CX16 the kernel takes its fallback, and 30
# boots in a row went through.
boot() {
        local deadline=$((SECONDS + BOOT_SECONDS))
        qemu-system-x86_64 -machine q35 -accel tcg -cpu max,-cx16 -m 1024 -smp 2 \
                -kernel "$1" -initrd "$TMP/initrd.gz" \
                -append "console=ttyS0 panic=-1 quiet" \
                -nographic -monitor none -serial "file:$2" -nic none -no-reboot \
                </dev/null >"$2.qemu" 2>&1 &
        QEMU_PID=$!
        while kill -0 "$QEMU_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
                sleep 1
        done
        if kill -0 "$QEMU_PID" 2>/dev/null; then
                kill -KILL "$QEMU_PID"
                echo "timed out after $BOOT_SECONDS s" >>"$2.qemu"
        fi
        # (Quietly: bash would report the kill.)
        { wait "$QEMU_PID"; } 2>/dev/null || true
        QEMU_PID=""
}

for entry in "${KERNELS[@]}"; do
        read -r suite pattern <<<"$entry"
        echo "== $suite: $pattern"
        start=$SECONDS
        if ! deb=$(fetch_kernel "$suite" "$pattern"); then
                result "kernel from $suite: SKIP: $deb"
                continue
        fi
        echo "fetched in $((SECONDS - start)) s: $deb"

        kdir=$TMP/kernel-$suite
        mkdir -p "$kdir"
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir" --wildcards './boot/vmlinuz-*'
        vmlinuz=$(find "$kdir/boot" -name 'vmlinuz-*' | head -n 1)
        release=${vmlinuz##*/vmlinuz-}

        # A guest that dies before it reaches the check (the emulator, not
        # netdep) is booted once more; one that dies during it is a FAIL.
        log=$TMP/serial-$suite.log
        start=$SECONDS
        boots=0
        while [ "$boots" -lt 2 ]; do
                boots=$((boots + 1))
                boot "$vmlinuz" "$log"
                grep -q "==== netdep check begin ====" "$log" && break
                echo "    the guest did not reach the check (boot $boots); the end of its console:"
                tr -d '\r' <"$log" | tail -n 15 | sed 's/^/    | /'
        done
        took="$((SECONDS - start)) s"
        [ "$boots" = 1 ] || took="$took, $boots boots"
        # The check's lines, between the guest's markers (serial lines end
        # in CR LF; the firmware's terminal resets can precede the first).
        tr -d '\r' <"$log" | sed -n '/==== netdep check begin ====$/,/^==== netdep check end ====$/p' |
                sed '1d;$d' >"$TMP/guest-$suite.out"
        show_check "$TMP/guest-$suite.out"
        if [ -z "$VERDICT" ]; then
                how="it stopped"
                grep -q "^timed out" "$log.qemu" && how="timed out after $BOOT_SECONDS s"
                if grep -q "==== netdep check begin ====" "$log"; then
                        VERDICT="FAIL: no result from the guest ($how)"
                        echo "    the end of the serial console:"
                        tr -d '\r' <"$log" | tail -n 30 | sed 's/^/    | /'
                else
                        VERDICT="FAIL: the guest did not reach the check ($how)"
                fi
        fi
        result "kernel $release ($suite): $VERDICT ($took)"
done

echo
echo "Kernel matrix:"
printf '  %s\n' "${RESULTS[@]}"
exit "$FAILED"
