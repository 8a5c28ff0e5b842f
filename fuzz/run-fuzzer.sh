#!/bin/sh
# Runs one libFuzzer program for a bounded time, as a meson test.
#
#   run-fuzzer.sh FUZZER SECONDS SCRATCH_DIR STARTING_CORPUS DICT
#   run-fuzzer.sh --skip REASON
#
# libFuzzer writes the inputs it finds into its first corpus directory: that
# is SCRATCH_DIR, in the build tree, so the source tree never changes while
# tests run and what one run finds helps the next. Crashes go to
# SCRATCH_DIR/../<name>-crashes/ ("crash-<sha1>", "leak-…", "timeout-…").
set -eu

if [ "$1" = --skip ]; then
        echo "fuzz: skipped, $2"
        exit 77 # meson's "skipped"
fi

fuzzer=$1 seconds=$2 scratch=$3 corpus=$4 dict=$5
crashes=$(dirname "$scratch")/$(basename "$fuzzer")-crashes
mkdir -p "$scratch" "$crashes"

# libFuzzer fails the run on a leak by itself; UBSan stops at the first
# finding because of -fno-sanitize-recover=undefined.
exec "$fuzzer" \
        -max_total_time="$seconds" \
        -rss_limit_mb=1024 \
        -timeout=25 \
        -dict="$dict" \
        -artifact_prefix="$crashes/" \
        -print_final_stats=1 \
        "$scratch" "$corpus"
