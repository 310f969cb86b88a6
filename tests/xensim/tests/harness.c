/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim unit-test harness: see harness.h.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/ctlclient.h"
#include "harness.h"

static int tests_run, tests_failed;
static pid_t hv_pid;
static char dir[PATH_MAX], log_path[PATH_MAX + 16];
static CtlClient ctl_client;
char harness_ctl_extra[65536];
char harness_control_path[PATH_MAX + 16];

bool check(bool cond, const char *fmt, ...)
{
    va_list ap;

    tests_run++;
    if (!cond) {
        tests_failed++;
    }
    printf("%sok %d - ", cond ? "" : "not ", tests_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    return cond;
}

static void hv_path(char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (getenv("XENSIM_HV")) {
        snprintf(buf, len, "%s", getenv("XENSIM_HV"));
        return;
    }
    self[n > 0 ? n : 0] = 0;
    slash = strrchr(self, '/');
    if (slash) {
        *slash = 0;
    }
    if (strlen(self) + sizeof("/../xensim-hv") > len) {
        printf("Bail out! path too long: %s\n", self);
        exit(1);
    }
    strcpy(buf, self);
    strcat(buf, "/../xensim-hv");
}

static void ctl_connect(const char *path)
{
    if (ctlc_connect(&ctl_client, path, -1, 60000) < 0) {
        printf("Bail out! %s\n", ctl_client.err);
        exit(1);
    }
}

void harness_start(const char *domid, const char *memory_mib,
                   const char *vcpus, const char *timeout_ms)
{
    char hv[PATH_MAX], sock[PATH_MAX + 16], control[PATH_MAX + 16];
    int i;

    snprintf(dir, sizeof(dir), "/tmp/xensim-test.XXXXXX");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        exit(1);
    }
    snprintf(sock, sizeof(sock), "%s/hv.sock", dir);
    snprintf(control, sizeof(control), "%s/control.sock", dir);
    snprintf(log_path, sizeof(log_path), "%s/hv.log", dir);
    hv_path(hv, sizeof(hv));
    hv_pid = fork();
    if (hv_pid == 0) {
        FILE *log = freopen(log_path, "w", stderr);

        (void)log;
        execl(hv, hv, "--socket", sock, "--control", control, "--domid",
              domid, "--memory", memory_mib, "--vcpus", vcpus,
              "--timeout-ms", timeout_ms, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", hv, strerror(errno));
        _exit(127);
    }
    for (i = 0; i < 500; i++) {
        if (access(control, F_OK) == 0) {
            break;
        }
        usleep(10000);
    }
    setenv("XENSIM_SOCKET", sock, 1);
    strcpy(harness_control_path, control);
    ctl_connect(control);
}

static void extra_line(void *opaque, const char *line)
{
    strncat(harness_ctl_extra, line,
            sizeof(harness_ctl_extra) - strlen(harness_ctl_extra) - 2);
    strcat(harness_ctl_extra, "\n");
}

const char *ctl(const char *fmt, ...)
{
    static char line[65536];
    char *cmd;
    const char *rest;
    va_list ap;
    int n;

    harness_ctl_extra[0] = 0;
    va_start(ap, fmt);
    n = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return "err ENOMEM";
    }
    n = ctlc_send(&ctl_client, "%s", cmd);
    free(cmd);
    if (n < 0 || (ctlc_reply_body(&ctl_client, &rest, extra_line, NULL) < 0
                  && ctl_client.broken)) {
        return "err EOF";
    }
    /* "ok ..." or "err ...", kept until the next call */
    snprintf(line, sizeof(line), "%s", ctl_client.line);
    return line;
}

long long counter(const char *name)
{
    const char *p;
    size_t n = strlen(name);

    ctl("counters");
    for (p = harness_ctl_extra; p && *p; p = strchr(p, '\n')) {
        if (*p == '\n') {
            p++;
        }
        if (!strncmp(p, name, n) && p[n] == ' ') {
            return atoll(p + n + 1);
        }
    }
    return -1;
}

int hv_bug_lines(const char *containing)
{
    FILE *f = fopen(log_path, "r");
    char line[4096];
    int n = 0;

    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "DM BUG") &&
            (!containing || strstr(line, containing))) {
            n++;
        }
    }
    fclose(f);
    return n;
}

int harness_finish(void)
{
    int status = 0;
    char cmd[PATH_MAX + 32];

    if (hv_pid > 0) {
        kill(hv_pid, SIGTERM);
        waitpid(hv_pid, &status, 0);
        check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "xensim-hv exits cleanly on SIGTERM");
    }
    if (tests_failed && getenv("XENSIM_TEST_VERBOSE")) {
        snprintf(cmd, sizeof(cmd), "sed 's/^/# /' %s", log_path);
        if (system(cmd)) {
            /* best effort */
        }
    }
    if (getenv("XENSIM_TEST_KEEP")) {
        return tests_failed ? 1 : 0;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd)) {
        /* best effort */
    }
    printf("1..%d\n", tests_run);
    return tests_failed ? 1 : 0;
}
