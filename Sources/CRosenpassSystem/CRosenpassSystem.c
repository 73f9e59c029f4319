#if defined(__linux__)
#define _GNU_SOURCE
#endif
#include "CRosenpassSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>

int crp_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0, 0, 0); }
int crp_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
#else
int crp_set_dumpable(int dumpable) { (void)dumpable; return -1; }
int crp_get_dumpable(void) { return -1; }
#endif

int crp_accept_nonblocking(int listener) {
#if defined(__linux__)
    return accept4(listener, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(listener, 0, 0);
    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
#endif
}

int crp_pipe_cloexec(int fds[2], int nonblocking) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
#else
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        if (nonblocking) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    return 0;
#endif
}

int crp_capget(void *header, void *data) {
#if defined(__linux__)
    return (int)syscall(SYS_capget, header, data);
#else
    (void)header; (void)data;
    errno = ENOSYS;
    return -1;
#endif
}

int crp_capset(void *header, void *data) {
#if defined(__linux__)
    return (int)syscall(SYS_capset, header, data);
#else
    (void)header; (void)data;
    errno = ENOSYS;
    return -1;
#endif
}
