# SPDX-License-Identifier: GPL-2.0-or-later
# Xen HVM device model for QEMU 7.2 (Debian 12) / Xen 4.17: project driver.
#
#   make run      set up, build, and run the main job
#   make check    set up, build, and run every test; ends "N passed, N failed"
#   make build    binary at build/qemu-system-x86_64
#   make series   git format-patch series (with cover letter) in series-out/
#   make bench    benchmarks (bench/), ratios against Debian's stock build
#   make install  PREFIX=/usr/local: install the device model for Xen hosts
#   make fuzz     the ioreq fuzzer for FUZZ_SECONDS (default 3600), tests/fuzz
#   make tsan     QEMU under ThreadSanitizer through the threaded runs (mk/tsan.sh)

SHELL := /bin/bash
PREFIX ?= /usr/local
BUILD := build
QEMU_TARGETS := qemu-system-x86_64 qemu-img
# QEMU's own qtests we build; the bridge runs them against -accel xen.
QTESTS := ahci-test ide-test fdc-test rtl8139-test i440fx-test q35-test \
          display-vga-test xen-dma-test xen-platform-test
# Our Xen qtests that need Q35 under Xen (check.d/47 runs them, not 33).
XEN_QTESTS := xen-ahci-ncq-test
# Our unit tests inside QEMU's tree (tests/unit).
UNIT_TESTS := test-xen-mapcache test-xen-mapcache-mutant

.PHONY: print-qtests all deps base assemble configure build build-locked mutants sanitizers check run series bench install fuzz soak tsan clean distclean

all: build

deps:
	@bash mk/deps.sh

base: deps
	@bash mk/fetch-base.sh

assemble: base
	@bash mk/assemble.sh

configure: assemble
	@bash mk/configure.sh

# One build at a time per tree: several engineers (and CI) share build/.
build:
	@mkdir -p $(BUILD)
	@flock $(BUILD)/.lock $(MAKE) --no-print-directory build-locked

build-locked: configure $(BUILD)/drive-aio/deny-io-uring
	@ninja -C $(BUILD)/qemu $(QEMU_TARGETS) $(addprefix tests/qtest/,$(QTESTS) $(XEN_QTESTS)) \
		$(addprefix tests/unit/,$(UNIT_TESTS))
	@ln -sf qemu/qemu-system-x86_64 $(BUILD)/qemu-system-x86_64
	@ln -sf qemu/qemu-img $(BUILD)/qemu-img
	@# Run from the build tree, QEMU looks for firmware under qemu-bundle/.
	@for d in share/qemu share/seabios lib/ipxe/qemu; do \
		mkdir -p $(BUILD)/qemu/qemu-bundle/usr/$$(dirname $$d); \
		ln -sfn /usr/$$d $(BUILD)/qemu/qemu-bundle/usr/$$d; done
	@# the map cache's unit test under ThreadSanitizer (check.d/21), and
	@# its bug scenarios linked with 7.2's cache too (check.d/22)
	@bash mk/build-tsan.sh
	@bash mk/build-mapcache-stock.sh
	@# the simulator, its tests (also linked with Debian's libraries for
	@# check.d/35), launcher, qtest bridge and guest workload
	@$(MAKE) --no-print-directory -C tests/xensim O=$(abspath $(BUILD))/xensim \
		all real-tests
	@# the soak's guest driver (check.d/49, make soak)
	@$(MAKE) --no-print-directory -s -C tests/soak O=$(abspath $(BUILD))/soak

# a seccomp wrapper refusing io_uring_setup (check.d/38)
$(BUILD)/drive-aio/deny-io-uring: tests/drive-aio/deny-io-uring.c
	@mkdir -p $(@D)
	cc -O2 -Wall -Werror -o $@ $<

series: build
	@flock $(BUILD)/.lock bash mk/series.sh

# device models with a known defect that check.d/47 (and 36: the
# replace mutant) must see fail
# (tests/xensim/q35/mutant-build.sh takes the build lock itself)
mutants: build
	@for m in mapcache72 invalidate-unmaps-locked replace-rewrites-index; do \
		bash tests/xensim/q35/mutant-build.sh $(BUILD) $$m \
			> $(BUILD)/mutants-$$m.log 2>&1 || \
		{ tail -20 $(BUILD)/mutants-$$m.log; exit 1; }; done

# the fuzzer (xsfuzz, seeds, dictionary), QEMU built with afl-clang-fast,
# ASan and UBSan, and the simulator under ASan and UBSan, for check.d/48
# (XEN_DM_SANITIZERS=0, or no AFL++, skips them: the second QEMU build
# is the cost)
SAN_LOG := $(BUILD)/fuzz/build-san.log
sanitizers: build
	@if [ "$${XEN_DM_SANITIZERS:-1}" != 0 ] && \
	    command -v afl-clang-fast >/dev/null; then \
		mkdir -p $(BUILD)/fuzz && \
		$(MAKE) --no-print-directory -s -C tests/fuzz \
			O=$(abspath $(BUILD))/fuzz && \
		python3 tests/fuzz/mkseeds.py $(abspath $(BUILD))/fuzz >/dev/null && \
		{ bash mk/build-fuzz.sh > $(SAN_LOG) 2>&1 || \
		  { tail -20 $(SAN_LOG); exit 1; }; } && \
		$(MAKE) --no-print-directory -s -C tests/xensim \
			O=$(abspath $(BUILD))/xensim-san \
			CFLAGS="-O1 -g -fsanitize=address,undefined \
			-fno-omit-frame-pointer -fno-sanitize-recover=undefined \
			-Wall -Werror -std=gnu11 -D_GNU_SOURCE -D__XEN_TOOLS__" \
			libs hv tests; \
	fi

check: build series mutants sanitizers
	@bash tests/check.sh

run: build series
	@bash mk/run.sh

bench: build
	@bash mk/bench.sh

fuzz: build
	@bash mk/fuzz.sh

soak: build
	@bash mk/soak.sh

tsan: build
	@bash mk/tsan.sh

install: build
	install -D -m 0755 $(BUILD)/qemu/qemu-system-x86_64 \
		$(DESTDIR)$(PREFIX)/lib/xen-dm/bin/qemu-system-x86_64
	@echo "Set device_model_override=\"$(PREFIX)/lib/xen-dm/bin/qemu-system-x86_64\" in xl.cfg"

clean:
	rm -rf $(BUILD)/qemu $(BUILD)/assembled $(BUILD)/series $(BUILD)/series.git series-out

distclean:
	rm -rf $(BUILD) series-out

print-qtests:
	@echo $(QTESTS)
