# SPDX-License-Identifier: GPL-2.0-or-later
# xensim: what the bridge/, workload/ and ../soak/ Makefiles share (their
# output directory, compiler flags, the common helpers and the rules of
# their one program).  Include it after setting SRC to the including
# Makefile's directory (for ../soak/: xensim's workload/).

O ?= $(CURDIR)/out
CC ?= gcc
CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Werror -std=gnu11 \
          -D_GNU_SOURCE

COMMON_DIR := $(abspath $(SRC)/../common)
SOCKIO_SRC := $(COMMON_DIR)/sockio.c
SOCKIO_HDR := $(COMMON_DIR)/sockio.h
# the control-socket client (ctlclient.h), on top of sockio
CTLC_SRC := $(COMMON_DIR)/ctlclient.c $(SOCKIO_SRC)
CTLC_HDR := $(COMMON_DIR)/ctlclient.h $(SOCKIO_HDR)

# $(eval $(call program,NAME,SOURCES,HEADERS,LIBS)): the including
# Makefile's program $(O)/NAME, linked from SOURCES with LIBS and rebuilt
# when one of SOURCES or HEADERS changes, and its all and clean targets.
define program
.PHONY: all clean
all: $(O)/$(1)

$(O)/$(1): $(2) $(3)
	@mkdir -p $(O)
	$(CC) $(CFLAGS) -o $$@ $(2) $(4)

clean:
	rm -f $(O)/$(1)
endef
