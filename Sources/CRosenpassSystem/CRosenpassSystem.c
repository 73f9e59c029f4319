#if defined(__linux__)
#define _GNU_SOURCE
#endif
#include "CRosenpassSystem.h"

#include <fcntl.h>
#include <sys/socket.h>

#if defined(__linux__)
#include <sys/prctl.h>

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
