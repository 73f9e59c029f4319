// System calls that Swift's Glibc module does not offer (variadic, behind _GNU_SOURCE, or without a
// libc wrapper), wrapped in plain C functions. Each returns what the wrapped call returns; errno is left as it set it.
#ifndef C_ROSENPASS_SYSTEM_H
#define C_ROSENPASS_SYSTEM_H

/// prctl(PR_SET_DUMPABLE, dumpable): 0 keeps core dumps, ptrace and /proc/PID/mem of this process from
/// everyone without CAP_SYS_PTRACE. Returns 0, or -1 (also on systems without prctl).
int crp_set_dumpable(int dumpable);

/// prctl(PR_GET_DUMPABLE): 1 or 0, or -1 where there is no such call.
int crp_get_dumpable(void);

/// accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC): the connection is close-on-exec from
/// the start, so a process another thread spawns at that moment cannot inherit it. Where there is no
/// accept4, accept and then fcntl. Returns the new descriptor or -1.
int crp_accept_nonblocking(int listener);

/// pipe2(fds, O_CLOEXEC [| O_NONBLOCK]): both ends close-on-exec from the start. Where there is no
/// pipe2, pipe and then fcntl. Returns 0 or -1.
int crp_pipe_cloexec(int fds[2], int nonblocking);

/// capget(2) and capset(2) with the kernel's header and data structs (version 3: two data structs).
/// Return 0, or -1 (also on systems without Linux capabilities, with errno ENOSYS).
int crp_capget(void *header, void *data);
int crp_capset(void *header, void *data);

#endif
