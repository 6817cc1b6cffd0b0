/* Tests for lopool.c: the warm LibreOffice instance. Every Office, RTF, ODF and text
 * fixture becomes a PDF with the page count MANIFEST.md gives; encrypted and corrupt
 * documents get their statuses and the instance keeps working; it is recycled after
 * lo_max_docs documents (a new process), restarted after being killed from outside,
 * killed on a timeout (a huge text file with a 1 s limit, and a fake soffice that
 * never answers) or when a document makes it grow past twice lo_mem_limit, without
 * leaving a process behind, and fx_lo_free stops everything.
 * Processes are found through /proc: the helper's arguments hold the test's private
 * directory. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "convert/convert_priv.h"

static char base[256]; /* the test's private directory */
static char fixtures[PATH_MAX]; /* FAXD_TEST_DATA/fixtures */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Reads /proc/<name>/cmdline with NULs turned into spaces. */
static bool proc_cmdline(const char *name, char *out, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/cmdline", name);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(out, 1, len - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (!out[i]) out[i] = ' ';
    out[n] = 0;
    return n > 0;
}

/* Process group and state of a process, from /proc/<name>/stat. */
static bool proc_stat(const char *name, long *pgrp, char *state)
{
    char path[700], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", name);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long ppid;
    return p && sscanf(p + 1, " %c %ld %ld", state, &ppid, pgrp) == 3;
}

/* The running helper whose arguments mention `tag` (a converter's work dir); 0 = none. */
static pid_t helper_pid(const char *tag)
{
    DIR *d = opendir("/proc");
    pid_t found = 0;
    struct dirent *de;
    char cmd[4096];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        if (proc_cmdline(de->d_name, cmd, sizeof cmd) && strstr(cmd, "lo_helper.py") &&
            strstr(cmd, tag))
            found = (pid_t)atoi(de->d_name);
    }
    if (d) closedir(d);
    return found;
}

/* True when some thread of the process is still running. A killed multi-threaded
 * process (the helper has a watchdog thread) shows its leader as a zombie while other
 * threads are still exiting and holding its pipes open. */
static bool threads_alive(const char *name)
{
    char dir[300];
    snprintf(dir, sizeof dir, "/proc/%s/task", name);
    DIR *d = opendir(dir);
    bool alive = false;
    struct dirent *de;
    while (d && !alive && (de = readdir(d))) {
        char task[600];
        long pgrp;
        char st;
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        snprintf(task, sizeof task, "%s/task/%s", name, de->d_name);
        alive = proc_stat(task, &pgrp, &st) && st != 'Z' && st != 'X';
    }
    if (d) closedir(d);
    return alive;
}

/* Processes of group pgid that are still running (zombies whose threads have all
 * ended do not count). */
static int group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        long pgrp;
        char st;
        if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && proc_stat(de->d_name, &pgrp, &st) &&
            pgrp == (long)pgid && threads_alive(de->d_name))
            n++;
    }
    if (d) closedir(d);
    return n;
}

/* Processes (any group) whose command line contains s. */
static int cmdline_count(const char *s)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    char cmd[4096];
    while (d && (de = readdir(d))) {
        long pgrp;
        char st;
        if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
            proc_cmdline(de->d_name, cmd, sizeof cmd) && strstr(cmd, s) &&
            proc_stat(de->d_name, &pgrp, &st) && st != 'Z')
            n++;
    }
    if (d) closedir(d);
    return n;
}

/* Waits up to 5 s for every process of the group to end (a killed group takes a few
 * milliseconds to go). */
static bool group_gone(pid_t pgid)
{
    for (int i = 0; i < 100; i++) {
        if (group_alive(pgid) == 0) return true;
        sleep_ms(50);
    }
    return false;
}

static int pdf_pages(const char *pdf)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "qpdf --show-npages '%s' 2>/dev/null", pdf);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int n = -1;
    if (fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
    return n;
}

/* Converts one file in a fresh job directory; returns the status (NULL = ok), the page
 * count and the detail. */
static const char *convert(struct fx_convert *c, const char *path, int *pages, char *detail,
                           size_t detail_len)
{
    char wd[PATH_MAX], out[PATH_MAX + 16];
    struct fx_convert_result res;
    memset(&res, 0, sizeof res);
    res.failed_doc = -1;
    *pages = -1;
    CHECK(fx_workdir_new(c->cfg.work_dir, wd, sizeof wd) == FX_OK);
    snprintf(out, sizeof out, "%s/out.pdf", wd);
    CHECK(fx_lo_to_pdf(c, path, out, wd, &res) == FX_OK);
    if (!res.status) *pages = pdf_pages(out);
    if (detail) snprintf(detail, detail_len, "%s", res.detail);
    fx_workdir_remove(wd);
    return res.status;
}

static const char *fixture(const char *name)
{
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    return path;
}

static void init_converter(struct fx_convert *c, const char *work, const char *libexec,
                           const char *soffice, int timeout)
{
    memset(c, 0, sizeof *c);
    c->cfg.work_dir = work;
    c->cfg.libexec_dir = libexec;
    c->cfg.timeout_s = timeout;
    c->cfg.lo_max_docs = 3;
    c->cfg.lo_mem_limit = (int64_t)1 << 30;
    c->cfg.python = "/usr/bin/python3";
    c->cfg.soffice = soffice;
    c->lo = NULL;
}

static const struct {
    const char *name;
    int pages;
} good[] = {
    {"letter.docx", 1}, {"letter.doc", 1},  {"letter.odt", 1},  {"letter.rtf", 1},
    {"rtf_named.doc", 1}, {"report.docx", 4}, {"report.doc", 4}, {"report.odt", 4},
    {"report.rtf", 4},  {"invoice.xlsx", 1}, {"invoice.xls", 1}, {"ledger.xlsx", 6},
    {"ledger.xls", 6},  {"wide.xlsx", 30},  {"letter.txt", 1},  {"report.txt", 3},
};

/* Every good fixture. lo_max_docs is 3 at first: the third document ends its instance
 * (nothing of it is left) and the fourth runs on a new one; then recycling is turned
 * down so the rest run warm. */
static void test_fixtures(struct fx_convert *c, const char *tag)
{
    pid_t first = 0;
    int n = (int)(sizeof good / sizeof *good);
    for (int i = 0; i < n; i++) {
        int pages;
        double t = now_s();
        const char *st = convert(c, fixture(good[i].name), &pages, NULL, 0);
        printf("  %-14s %s pages=%d %.2f s\n", good[i].name, st ? st : "ok", pages, now_s() - t);
        CHECK(st == NULL);
        if (pages != good[i].pages)
            fprintf(stderr, "%s: %d pages, expected %d\n", good[i].name, pages, good[i].pages);
        CHECK(pages == good[i].pages);
        pid_t pid = helper_pid(tag);
        if (i == 0) {
            CHECK(pid > 0);
            first = pid;
        } else if (i == 1) {
            CHECK(pid == first);
        } else if (i == 2) { /* its third document: recycled */
            CHECK(pid == 0);
            CHECK(group_gone(first));
        } else if (i == 3) {
            CHECK(pid > 0 && pid != first);
            c->cfg.lo_max_docs = 100;
        }
    }
    /* Windows-1252 text re-coded by text.c first, as the pipeline does. */
    char utf8[PATH_MAX + 16];
    snprintf(utf8, sizeof utf8, "%s/cp1252_as_utf8.txt", base);
    CHECK(fx_text_to_utf8(fixture("letter_cp1252.txt"), utf8) == FX_OK);
    int pages;
    CHECK(convert(c, utf8, &pages, NULL, 0) == NULL);
    CHECK(pages == 1);
}

/* Encrypted and corrupt documents fail with their statuses; the same instance goes on. */
static void test_bad(struct fx_convert *c, const char *tag)
{
    static const struct {
        const char *name, *status;
    } bad[] = {
        {"bad_encrypted.docx", "failed_unknown_converter_issue"},
        {"bad_encrypted.xls", "failed_unknown_converter_issue"},
        {"bad_corrupt.docx", "failed_office_converter_issue"},
    };
    int pages;
    CHECK(convert(c, fixture("letter.docx"), &pages, NULL, 0) == NULL);
    pid_t pid = helper_pid(tag);
    CHECK(pid > 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char detail[256];
        double t = now_s();
        const char *st = convert(c, fixture(bad[i].name), &pages, detail, sizeof detail);
        printf("  %-18s %s (%s) %.2f s\n", bad[i].name, st ? st : "ok", detail, now_s() - t);
        CHECK_STR(st, bad[i].status);
        CHECK(convert(c, fixture("letter.docx"), &pages, NULL, 0) == NULL);
        CHECK(pages == 1);
        CHECK(helper_pid(tag) == pid); /* not restarted: the failure was the document's */
    }
    printf("  rss after %d documents on one instance: %lld kB\n", 1 + 2 * 3,
           (long long)fx_proc_group_rss_kb(pid));
}

/* An instance killed from outside is replaced on the next document. */
static void test_killed(struct fx_convert *c, const char *tag)
{
    pid_t pid = helper_pid(tag);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK(kill(-pid, SIGKILL) == 0);
    /* Until the group is gone, the helper might still take the request and then die
     * under it, which is a different (document-failing) case. */
    CHECK(group_gone(pid));
    int pages;
    CHECK(convert(c, fixture("letter.odt"), &pages, NULL, 0) == NULL);
    CHECK(pages == 1);
    pid_t now = helper_pid(tag);
    CHECK(now > 0 && now != pid);
}

/* A document slower than the timeout: the group is killed, the next document works. */
static void test_timeout(struct fx_convert *c, const char *tag)
{
    char big[PATH_MAX + 16];
    snprintf(big, sizeof big, "%s/big.txt", base);
    FILE *f = fopen(big, "w");
    CHECK(f != NULL);
    if (!f) return;
    for (int i = 0; i < 30000; i++)
        fprintf(f, "%6d  maintenance log entry: valve %d checked, pressure nominal\n", i, i % 97);
    fclose(f);
    pid_t pid = helper_pid(tag);
    CHECK(pid > 0);
    c->cfg.timeout_s = 1;
    char detail[256];
    int pages;
    double t = now_s();
    const char *st = convert(c, big, &pages, detail, sizeof detail);
    double took = now_s() - t;
    printf("  timeout: %s (%s) %.2f s\n", st ? st : "ok", detail, took);
    CHECK_STR(st, "failed_office_converter_issue");
    CHECK(strstr(detail, "timed out") != NULL);
    CHECK(took < 10); /* big.txt needs 15-20 s */
    CHECK(helper_pid(tag) == 0);
    CHECK(group_gone(pid));
    c->cfg.timeout_s = 60;
    CHECK(convert(c, fixture("invoice.xlsx"), &pages, NULL, 0) == NULL);
    CHECK(pages == 1);
}

/* A document that drives the instance past twice lo_mem_limit is stopped. soffice
 * alone is far above 2 x 64 MB, so the first check (after 1 s) catches big.txt. */
static void test_memory(struct fx_convert *c, const char *tag)
{
    char big[PATH_MAX + 16], detail[256];
    snprintf(big, sizeof big, "%s/big.txt", base);
    pid_t pid = helper_pid(tag);
    CHECK(pid > 0);
    c->cfg.lo_mem_limit = 64 << 20;
    int pages;
    double t = now_s();
    const char *st = convert(c, big, &pages, detail, sizeof detail);
    printf("  memory: %s (%s) %.2f s\n", st ? st : "ok", detail, now_s() - t);
    CHECK_STR(st, "failed_office_converter_issue");
    CHECK(strstr(detail, "more than 128 MB") != NULL);
    CHECK(helper_pid(tag) == 0);
    CHECK(group_gone(pid));
    c->cfg.lo_mem_limit = (int64_t)1 << 30;
    CHECK(convert(c, fixture("letter.rtf"), &pages, NULL, 0) == NULL);
    CHECK(pages == 1);
}

/* A soffice that never starts listening: the start times out, nothing is left. */
static void test_hanging_soffice(const char *libexec)
{
    char fake[PATH_MAX + 16], work[PATH_MAX + 16];
    snprintf(fake, sizeof fake, "%s/fake_soffice", base);
    snprintf(work, sizeof work, "%s/work_fake", base);
    FILE *f = fopen(fake, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("#!/bin/sh\nexec sleep 987\n", f);
    fclose(f);
    chmod(fake, 0700);
    struct fx_convert c;
    init_converter(&c, work, libexec, fake, 2);
    char detail[256];
    int pages;
    double t = now_s();
    const char *st = convert(&c, fixture("letter.docx"), &pages, detail, sizeof detail);
    double took = now_s() - t;
    printf("  hanging soffice: %s (%s) %.2f s\n", st ? st : "ok", detail, took);
    CHECK_STR(st, "failed_office_converter_issue");
    CHECK(took < 10);
    CHECK(helper_pid(work) == 0);
    for (int i = 0; i < 100 && cmdline_count("sleep 987") > 0; i++)
        sleep_ms(50); /* a killed process takes a moment to go */
    CHECK(cmdline_count("sleep 987") == 0);
    fx_lo_free(c.lo);
}

static void rm_rf(const char *dir)
{
    fx_workdir_remove(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as faxd does */
    const char *data = getenv("FAXD_TEST_DATA");
    if (!data) data = "tests/data";
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", data);
    char libexec[PATH_MAX];
    const char *env = getenv("FAXD_LIBEXEC_DIR");
    char src_dir[PATH_MAX + 32];
    snprintf(src_dir, sizeof src_dir, "%s/../../src/convert", data);
    if (!realpath(env && env[0] ? env : src_dir, libexec)) {
        fprintf(stderr, "no libexec dir: %s\n", strerror(errno));
        return 1;
    }
    snprintf(base, sizeof base, "/tmp/faxd_test_lopool_XXXXXX");
    if (!mkdtemp(base)) return 1;
    char work[PATH_MAX + 16];
    snprintf(work, sizeof work, "%s/work", base);

    struct fx_convert c;
    init_converter(&c, work, libexec, "soffice", 60);
    double t = now_s();
    test_fixtures(&c, work);
    printf("fixtures: %.1f s\n", now_s() - t);
    test_bad(&c, work);
    test_killed(&c, work);
    test_timeout(&c, work);
    test_memory(&c, work);

    pid_t pid = helper_pid(work);
    CHECK(pid > 0);
    fx_lo_free(c.lo);
    CHECK(helper_pid(work) == 0);
    CHECK(pid <= 0 || group_gone(pid));
    for (int i = 0; i < 100 && cmdline_count(base) > 0; i++)
        sleep_ms(50);
    CHECK(cmdline_count(base) == 0); /* no soffice with our profile either */
    DIR *d = opendir(work);         /* instance and job directories are gone */
    int left = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) left++;
    if (d) closedir(d);
    CHECK(left == 0);

    test_hanging_soffice(libexec);
    rm_rf(base);
    printf("total: %.1f s\n", now_s() - t);
    return fx_check_result("test_lopool");
}
