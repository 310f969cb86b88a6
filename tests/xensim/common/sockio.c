/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim sockio: socket and line-protocol helpers shared by the xensim
 * programs and libraries; see sockio.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockio.h"

/* Fill sa for path; -1/ENAMETOOLONG if it does not fit. */
static int unix_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

/* Close fd keeping errno: the caller reports why the setup failed. */
static int close_failed(int fd)
{
    int e = errno;

    close(fd);
    errno = e;
    return -1;
}

int sockio_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd;

    if (unix_addr(&sa, path) < 0) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return close_failed(fd);
    }
    return fd;
}

int sockio_listen(const char *path, int flags)
{
    struct sockaddr_un sa;
    int fd;

    if (unix_addr(&sa, path) < 0) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (fd < 0) {
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 64) < 0) {
        return close_failed(fd);
    }
    return fd;
}

int sockio_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= w;
    }
    return 0;
}

int sockio_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

unsigned sockio_size_letter(char c)
{
    switch (c) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'l':
        return 4;
    case 'q':
        return 8;
    }
    return 0;
}
