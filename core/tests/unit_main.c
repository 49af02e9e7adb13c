/* The unit test runner: `wm_unit_tests NAME` runs one test (as ctest does); no argument runs all.
 */
#include <stdio.h>
#include <string.h>

#define WM_TEST(name) int test_##name(void);
#include "tests.inc"
#undef WM_TEST

typedef struct entry {
    const char *name;
    int (*fn)(void);
} entry;

static const entry tests[] = {
#define WM_TEST(name) {#name, test_##name},
#include "tests.inc"
#undef WM_TEST
};

int main(int argc, char **argv) {
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        ran++;
        int rc = tests[i].fn();
        printf("%s %s\n", rc == 0 ? "PASS" : "FAIL", tests[i].name);
        failed += rc != 0;
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");
        return 2;
    }
    return failed ? 1 : 0;
}
