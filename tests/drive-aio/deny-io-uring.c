/*
 * deny-io-uring: run a program under a seccomp filter that refuses
 * io_uring_setup(2) with a given errno, as a container runtime or a
 * systemd unit's SystemCallFilter does on a locked-down Xen host.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   deny-io-uring ERRNO PROGRAM [ARGS...]
 *
 * ERRNO is a number or EPERM/ENOSYS.  Every other system call is allowed;
 * the filter is inherited across the exec and cannot be lifted.  x86-64
 * only (the only architecture the device model is built for here): a
 * process of another architecture is killed rather than half-filtered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static int parse_errno(const char *s)
{
    char *end;
    long v;

    if (!strcmp(s, "EPERM")) {
        return EPERM;
    }
    if (!strcmp(s, "ENOSYS")) {
        return ENOSYS;
    }
    v = strtol(s, &end, 0);
    return (*s && !*end && v > 0 && v < 4096) ? (int)v : -1;
}

int main(int argc, char **argv)
{
    int err = argc >= 3 ? parse_errno(argv[1]) : -1;

    if (err < 0) {
        fprintf(stderr, "usage: %s ERRNO PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }

    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {
        .len = sizeof(filter) / sizeof(filter[0]),
        .filter = filter,
    };

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        perror("deny-io-uring: seccomp");
        return 2;
    }
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    return 127;
}
