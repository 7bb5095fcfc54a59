#ifndef CPOSIX_H
#define CPOSIX_H
#include <stddef.h>
#include <spawn.h>
#include <sys/types.h>

// Passing a file descriptor with SCM_RIGHTS needs the CMSG_* macros, which Swift
// cannot import; these two functions do the whole sendmsg/recvmsg dance in C.

/// Sends `len` bytes as one message on `sock`, with `fd_to_pass` attached when >= 0.
/// Returns the number of bytes sent or -1 with errno set.
ssize_t cposix_send_with_fd(int sock, const void *buf, size_t len, int fd_to_pass);

/// Receives one message into `buf`. `*received_fd` is set to a passed descriptor
/// (opened with O_CLOEXEC) or -1. Returns bytes received, 0 on EOF, -1 with errno set;
/// -2 when the control data was truncated (a descriptor was lost: treat as a protocol error).
ssize_t cposix_recv_with_fd(int sock, void *buf, size_t len, int *received_fd);

/// POSIX_SPAWN_SETSID is a GNU extension (glibc >= 2.26, value 0x80) that Swift's
/// Glibc module does not surface.
static inline short cposix_spawn_setsid_flag(void) {
#ifdef POSIX_SPAWN_SETSID
    return POSIX_SPAWN_SETSID;
#else
    return 0x80;
#endif
}

/// Returns freed heap memory to the system (glibc's malloc_trim; absent elsewhere).
int cposix_malloc_trim(void);

#endif
