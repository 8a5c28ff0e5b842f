# Thin wrapper: installs what the build needs, then hands over to Meson.
#   make run    build, then run the main job on this host: one agent round
#               into the embedded store (STORE=sqlite:netdep.db), then show
#               this host's flows
#   make test   build with ASan+UBSan and run every test (needs root for
#               the network-namespace scenarios)
#   make bench  build the benchmarks (see docs/BENCHMARKS.md)

DEBIAN_PACKAGES := gcc make meson ninja-build pkg-config python3 libmnl-dev libjansson-dev \
                   libsqlite3-dev sqlite3 libpq-dev libcmocka-dev iproute2 jq util-linux procps \
                   postgresql clang libbpf-dev bpftool libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev zlib1g-dev libsystemd-dev wrk tcpdump nftables libbpf-tools \
                   qemu-system-x86 busybox-static cpio debian-archive-keyring graphviz netcat-openbsd curl openssl nginx fping \
                   nodejs chromium
STORE ?= sqlite:netdep.db
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build run test bench clean

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@# npm for the web page's libraries: Debian's package, unless nodejs came with its own
	@command -v npm >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm

build: deps
	@[ -f build/build.ninja ] || meson setup build --buildtype=release
	ninja -C build

run: build
	$(SUDO) ./build/netdep db migrate --store $(STORE)
	$(SUDO) ./build/netdep agent --once --store $(STORE)
	$(SUDO) ./build/netdep flows
	@echo "Stored in $(STORE). Ask it: ./build/netdep look --host ADDR --store $(STORE)"
	@echo "See it: $(SUDO) ./build/netdep serve --store $(STORE), then open http://127.0.0.1:8470/"

test: deps
	@[ -f build-test/build.ninja ] || meson setup build-test -Db_sanitize=address,undefined -Dwerror=true
	ninja -C build-test
	$(SUDO) meson test -C build-test --print-errorlogs

bench: build
	@echo "run: $(SUDO) ./build/bench/flows-bench   (figures: docs/BENCHMARKS.md)"

clean:
	rm -rf build build-test
