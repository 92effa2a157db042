/* vrestart: vhostile's virtio console driver, testing a service that dies and comes back
 * instead of hostile chains (see restart_test() in vhostile.c, docs/guests.md). */
#define VHOSTILE_RESTART 1
#include "vhostile.c"
