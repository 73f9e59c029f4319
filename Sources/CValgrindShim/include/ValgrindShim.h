// Valgrind client requests for the constant-time check of rosenpass-crypto (`ct-check`).
//
// Marking memory "undefined" makes memcheck report every conditional jump and every memory address
// that depends on it: the ctgrind technique for finding secret-dependent timing. Outside valgrind the
// requests cost a few instructions and do nothing. Without valgrind's headers they are no-ops and
// `rp_valgrind_available` returns 0.
#ifndef ROSENPASS_VALGRIND_SHIM_H
#define ROSENPASS_VALGRIND_SHIM_H

#include <stddef.h>

/// 1 when this build can talk to valgrind (its headers were present), else 0.
int rp_valgrind_available(void);

/// 1 when running under valgrind, else 0.
int rp_running_on_valgrind(void);

/// Marks `length` bytes at `address` as undefined (secret) for memcheck.
void rp_valgrind_mark_secret(const void *address, size_t length);

/// Marks `length` bytes at `address` as defined (public again) for memcheck.
void rp_valgrind_mark_public(const void *address, size_t length);

/// The number of errors memcheck has reported so far (0 outside valgrind).
unsigned long rp_valgrind_error_count(void);

#endif
