/* fork(): the child's client re-arms itself; a parent's job refuses its own events in the child
 * but may start sub-jobs there. */
#include <jansson.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

int test_fork_child_rearms_client_and_refuses_parent_job(void) {
    tu_fixture fx;
    CHECK_OK(tu_fixture_open(&fx, ""));
    wm_client *c = fx.client;
    wm_job *j;
    CHECK_OK(wm_job_start(c, "parent-job", NULL, NULL, &j));
    tu_quiesce_before_fork(c);
    pid_t pid = fork();
    if (pid == 0) {
        int code = 0;
        if (wm_job_progress(j, 0.5, NULL) != WM_E_FORKED)
            code = 1;
        wm_job *child;
        if (wm_subjob_start(j, "from-child", NULL, &child) != WM_OK)
            code = 2;
        else if (wm_job_succeed(child, NULL) != WM_OK)
            code = 3;
        wm_job_destroy(child);
        if (wm_client_flush(c, 10) != WM_OK)
            code = 4;
        if (wm_client_stat(c, WM_STAT_DELIVERED) != 2)
            code = 5;
        _exit(code);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fprintf(stderr, "child failed at step %d\n", WEXITSTATUS(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_OK(wm_job_succeed(j, NULL)); /* the parent still owns its job */
    wm_job_destroy(j);
    CHECK_OK(wm_client_close(c, 10));
    char *text = tu_read_events(fx.dir, NULL);
    CHECK(tu_count_lines(text) == 4);
    int child_events = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *e = json_loads(line, 0, NULL);
        if (json_integer_value(json_object_get(e, "pid")) == pid) {
            child_events++;
            CHECK(!strcmp(json_string_value(json_object_get(e, "sub_key")), "from-child"));
        }
        json_decref(e);
    }
    CHECK(child_events == 2);
    free(text);
    tu_fixture_done(&fx);
    return 0;
}
