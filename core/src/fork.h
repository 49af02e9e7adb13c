/* Internal: telling, cheaply, that the process has forked since a handle was armed. */
#ifndef WM_FORK_H
#define WM_FORK_H

/* A number that changes in the child after every fork(). Comparing it costs no syscall, unlike
 * getpid(). Registers the pthread_atfork handler on first use. */
unsigned wm__fork_generation(void);

#endif
