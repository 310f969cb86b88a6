/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv: the simulated Xen 4.17 hypervisor process.  Parses the
 * command line, builds the guest (memory, vCPUs), serves the libraries
 * and the control socket until SIGTERM/SIGINT or "quit", then prints its
 * counters on stderr.  See ../README.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"

Hv hv = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .timeout_ms = 10000,
    .fault_page_error_gfn = ~0ull,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xensim-hv --socket PATH [--control PATH] [--domid N]\n"
            "                 [--memory MiB] [--vcpus N] [--timeout-ms T]\n"
            "                 [--quiet]\n"
            "       xensim-hv --socket PATH [--control PATH] --toolstack\n"
            "                 [--timeout-ms T] [--quiet]\n");
}

static void on_signal(int sig)
{
    hv_request_exit();
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(s, &end, 0);
    return !errno && end != s && !*end;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "control", required_argument, NULL, 'c' },
        { "domid", required_argument, NULL, 'd' },
        { "memory", required_argument, NULL, 'm' },
        { "vcpus", required_argument, NULL, 'v' },
        { "timeout-ms", required_argument, NULL, 't' },
        { "quiet", no_argument, NULL, 'q' },
        { "toolstack", no_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *socket_path = NULL, *control_path = NULL;
    pthread_condattr_t ca;
    struct sigaction sa = { .sa_handler = on_signal };
    bool toolstack = false, sized = false;
    uint32_t domid = 1;
    unsigned nr_vcpus = 1;
    uint64_t memory_mib = 128, v;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            socket_path = optarg;
            break;
        case 'c':
            control_path = optarg;
            break;
        case 'd':
            sized = true;
            if (!parse_u64(optarg, &v) || v == 0 || v >= 0x7ff0) {
                fprintf(stderr, "xensim-hv: bad --domid %s\n", optarg);
                return 2;
            }
            domid = v;
            break;
        case 'm':
            sized = true;
            if (!parse_u64(optarg, &v) || v == 0 || v > (1u << 20)) {
                fprintf(stderr, "xensim-hv: bad --memory %s\n", optarg);
                return 2;
            }
            memory_mib = v;
            break;
        case 'v':
            sized = true;
            if (!parse_u64(optarg, &v) || v == 0 || v > HV_MAX_VCPUS) {
                fprintf(stderr, "xensim-hv: bad --vcpus %s (1..%zu)\n",
                        optarg, HV_MAX_VCPUS);
                return 2;
            }
            nr_vcpus = v;
            break;
        case 't':
            if (!parse_u64(optarg, &v) || v == 0 || v > 3600000) {
                fprintf(stderr, "xensim-hv: bad --timeout-ms %s\n", optarg);
                return 2;
            }
            hv.timeout_ms = v;
            break;
        case 'q':
            hv.quiet = true;
            break;
        case 'T':
            toolstack = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!socket_path || optind != argc || (toolstack && sized)) {
        usage(stderr);
        return 2;
    }
    /* Deadlines are CLOCK_REALTIME, the condvar default. */
    pthread_condattr_init(&ca);
    pthread_cond_init(&hv.cond, &ca);
    if (hv_vcpu_init() < 0) {
        return 1;
    }
    /* No domain in toolstack mode until XEN_DOMCTL_createdomain. */
    hv_domain_init(toolstack, domid, nr_vcpus, memory_mib);
    if (!toolstack) {
        /* What libxl sets up for a qemu-xen HVM guest. */
        hv_dom->hvm_param[HVM_PARAM_IOREQ_SERVER_PFN] = HV_IOREQ_GFN_POOL;
        hv_dom->hvm_param[HVM_PARAM_NR_IOREQ_SERVER_PAGES] = HV_IOREQ_GFN_PAGES;
        /* And what hvmloader leaves (ACPI on, libxl's default): Xen's
         * ACPI PM1a event block and PM timer at 0xb000/0xb008, where
         * QEMU's PIIX4 has them too (xendev.c). */
        hv_dom->hvm_param[HVM_PARAM_ACPI_IOPORTS_LOCATION] = 1;
    }
    if (hv_mem_init(toolstack ? 0 : memory_mib) < 0) {
        fprintf(stderr, "xensim-hv: cannot allocate %llu MiB of guest "
                "memory: %m\n", (unsigned long long)memory_mib);
        return 1;
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (toolstack) {
        hv_log("no domain yet (toolstack mode); listening on %s",
               socket_path);
    } else {
        hv_log("domain %u: %llu MiB, %u vCPUs; listening on %s", domid,
               (unsigned long long)memory_mib, nr_vcpus, socket_path);
    }
    if (hv_serve(socket_path, control_path) < 0) {
        return 1;
    }
    fprintf(stderr, "xensim-hv: exiting; counters:\n");
    pthread_mutex_lock(&hv.lock);
    hv_check_revoked_all();
    pthread_mutex_unlock(&hv.lock);
    hv_print_counters(stderr);
    return 0;
}
