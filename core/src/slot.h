/* Internal: spool slots. Each client process holds one slot directory under the spool base
 * (BASE/slot-N) by an flock on BASE/slot-N/lock, so two processes never share a spool. A slot whose
 * owner died (lock free) is taken over by the next process, which replays what it holds. */
#ifndef WM_SLOT_H
#define WM_SLOT_H

#include "wafermon.h"

#define WM__MAX_SLOTS 4096

/* Locks the first free slot under base (creating base). *slot_dir is malloc'd; *lock_fd is held
 * until wm__slot_release. WM_E_SPOOL_LOCKED when all WM__MAX_SLOTS slots are held. */
wm_status wm__slot_acquire(const char *base, char **slot_dir, int *lock_fd);

/* Calls adopt(dir, arg) for every other slot under base whose lock is free, holding its lock
 * meanwhile; dir is that slot's directory. */
void wm__slot_for_each_orphan(const char *base, const char *own_slot_dir,
                              void (*adopt)(const char *dir, void *arg), void *arg);

void wm__slot_release(int lock_fd);

#endif
