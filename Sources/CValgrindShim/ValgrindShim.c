// See include/ValgrindShim.h.
#include "ValgrindShim.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define RP_HAVE_VALGRIND 1
#endif
#endif

#ifdef RP_HAVE_VALGRIND
int rp_valgrind_available(void) { return 1; }
int rp_running_on_valgrind(void) { return RUNNING_ON_VALGRIND ? 1 : 0; }
void rp_valgrind_mark_secret(const void *address, size_t length) { VALGRIND_MAKE_MEM_UNDEFINED(address, length); }
void rp_valgrind_mark_public(const void *address, size_t length) { VALGRIND_MAKE_MEM_DEFINED(address, length); }
unsigned long rp_valgrind_error_count(void) { return (unsigned long)VALGRIND_COUNT_ERRORS; }
#else
int rp_valgrind_available(void) { return 0; }
int rp_running_on_valgrind(void) { return 0; }
void rp_valgrind_mark_secret(const void *address, size_t length) { (void)address; (void)length; }
void rp_valgrind_mark_public(const void *address, size_t length) { (void)address; (void)length; }
unsigned long rp_valgrind_error_count(void) { return 0; }
#endif
