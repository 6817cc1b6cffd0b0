/* Minimal assertion helpers for faxd's C unit tests: each CHECK prints the failing
 * expression with its line and counts; main returns fx_check_result(). */
#ifndef FX_TEST_CHECK_H
#define FX_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fx_checks_run, fx_checks_failed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        fx_checks_run++;                                                               \
        if (!(cond)) {                                                                 \
            fx_checks_failed++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *a_ = (a), *b_ = (b);                                               \
        fx_checks_run++;                                                               \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                       \
            fx_checks_failed++;                                                        \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", \
                    __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");   \
        }                                                                              \
    } while (0)

/* Where faxd-cover and lo_helper.py are: FAXD_LIBEXEC_DIR (CTest sets it), else the
 * build's src/ next to this test's tests/ directory. */
static inline void fx_test_libexec(char *out, size_t len)
{
    const char *env = getenv("FAXD_LIBEXEC_DIR");
    if (env) {
        snprintf(out, len, "%s", env);
        return;
    }
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(out, len, "%s/../src", self);
}

static inline int fx_check_result(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, fx_checks_run, fx_checks_failed);
    return fx_checks_failed ? 1 : 0;
}

#endif
