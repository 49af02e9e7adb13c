/*
 * _wafermon_exec: the small parent that `wafermon run` starts its command under.
 *
 *     _wafermon_exec FD COMMAND ARGS...
 *
 * Why: an exec keeps the high-water RSS of the process image it replaces, so a command spawned
 * straight from the Python wrapper reports the wrapper's ~25 MB as its own peak. Forked from this
 * small process, the command's peak RSS (wait4) is its own, as with GNU time.
 *
 * The wrapper starts this in a new process group (the command's group). If the wrapper's group
 * had the terminal, this takes it for the new group first, so Ctrl-C reaches the command directly
 * and once. SIGINT, SIGTERM, SIGHUP and SIGQUIT are ignored here (the command gets them, from the
 * terminal or passed on by the wrapper) and restored for the command.
 *
 * Writes one line to FD: "exec ERRNO" when the command could not be started, else
 * "status STATUS UTIME_US STIME_US MAXRSS_KB" (STATUS as from waitpid). Exits 0, 127 on misuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const int passed_on[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_PASSED (sizeof passed_on / sizeof passed_on[0])

static void report(int fd, const char *line) {
    size_t len = strlen(line);
    while (len > 0) {
        ssize_t n = write(fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        line += n;
        len -= (size_t)n;
    }
}

static void take_terminal(void) {
    /* Only when the wrapper's group is the terminal's foreground: never steal it from a shell. */
    if (!isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) != getpgid(getppid()))
        return;
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGTTOU, &ignore, &old); /* a background group may set the foreground only so */
    tcsetpgrp(STDIN_FILENO, getpgrp());
    sigaction(SIGTTOU, &old, NULL);
}

int main(int argc, char **argv) {
    char *end = NULL;
    long fd = argc >= 3 ? strtol(argv[1], &end, 10) : -1;
    if (fd < 0 || !end || *end) {
        fprintf(stderr, "usage: _wafermon_exec FD COMMAND ARGS... (run by `wafermon run`)\n");
        return 127;
    }
    struct sigaction ignore = {.sa_handler = SIG_IGN}, saved[N_PASSED];
    for (size_t i = 0; i < N_PASSED; i++)
        sigaction(passed_on[i], &ignore, &saved[i]);
    take_terminal();
    pid_t pid = fork();
    if (pid == 0) {
        for (size_t i = 0; i < N_PASSED; i++)
            sigaction(passed_on[i], &saved[i], NULL);
        /* The report fd must not leak into the command; it stays open here if exec fails. */
        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        execvp(argv[2], argv + 2);
        char line[64];
        snprintf(line, sizeof line, "exec %d\n", errno);
        report((int)fd, line);
        _exit(127);
    }
    char line[128];
    if (pid < 0) {
        snprintf(line, sizeof line, "exec %d\n", errno);
        report((int)fd, line);
        return 0;
    }
    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR)
            return 127;
    }
    long long utime = (long long)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec;
    long long stime = (long long)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
    snprintf(line, sizeof line, "status %d %lld %lld %ld\n", status, utime, stime, usage.ru_maxrss);
    report((int)fd, line);
    return 0;
}
