#include "CRosenpassSystem.h"

#if defined(__linux__)
#include <sys/prctl.h>

int crp_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0, 0, 0); }
int crp_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
#else
int crp_set_dumpable(int dumpable) { (void)dumpable; return -1; }
int crp_get_dumpable(void) { return -1; }
#endif
