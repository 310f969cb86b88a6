# Xen HVM device model for QEMU 7.2 (Debian 12) / Xen 4.17: project driver.
#
#   make run      set up, build, and run the main job
#   make check    set up, build, and run every test; ends "N passed, N failed"
#   make build    binary at build/qemu-system-x86_64
#   make series   git format-patch series (with cover letter) in series-out/
#   make bench    benchmarks (bench/), ratios against Debian's stock build
#   make install  PREFIX=/usr/local: install the device model for Xen hosts
#   make fuzz     the ioreq fuzzer for FUZZ_SECONDS (default 3600), tests/fuzz

SHELL := /bin/bash
PREFIX ?= /usr/local
BUILD := build
QEMU_TARGETS := qemu-system-x86_64 qemu-img
# QEMU's own qtests we build; the bridge runs them against -accel xen.
QTESTS := ahci-test ide-test fdc-test rtl8139-test i440fx-test q35-test \
          display-vga-test xen-dma-test xen-platform-test
# Our unit tests inside QEMU's tree (tests/unit).
UNIT_TESTS := test-xen-mapcache test-xen-mapcache-mutant

.PHONY: print-qtests all deps base assemble configure build build-locked check run series bench install fuzz clean distclean

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

build-locked: configure
	@ninja -C $(BUILD)/qemu $(QEMU_TARGETS) $(addprefix tests/qtest/,$(QTESTS)) \
		$(addprefix tests/unit/,$(UNIT_TESTS))
	@ln -sf qemu/qemu-system-x86_64 $(BUILD)/qemu-system-x86_64
	@ln -sf qemu/qemu-img $(BUILD)/qemu-img
	@# Run from the build tree, QEMU looks for firmware under qemu-bundle/.
	@for d in share/qemu share/seabios lib/ipxe/qemu; do \
		mkdir -p $(BUILD)/qemu/qemu-bundle/usr/$$(dirname $$d); \
		ln -sfn /usr/$$d $(BUILD)/qemu/qemu-bundle/usr/$$d; done
	@if [ -f tests/xensim/Makefile ]; then \
		$(MAKE) --no-print-directory -C tests/xensim O=$(abspath $(BUILD))/xensim; fi

series: build
	@flock $(BUILD)/.lock bash mk/series.sh

check: build series
	@bash mk/check.sh

run: build series
	@bash mk/run.sh

bench: build
	@bash mk/bench.sh

fuzz: build
	@bash mk/fuzz.sh

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
