# SPDX-License-Identifier: GPL-2.0-or-later
# xensim: what the bridge/ and workload/ Makefiles share (their output
# directory, compiler flags and the common helpers).  Include it after
# setting SRC to the including Makefile's directory.

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
