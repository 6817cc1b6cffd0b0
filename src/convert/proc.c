/* convert: sandboxed child processes and private work directories.
 *
 * Every outside engine (Ghostscript, qpdf, LibreOffice, faxd-cover) runs through here.
 * Design: everything the child needs (resolved program path, argv, a clean environment,
 * open file descriptors) is prepared in the parent, because between fork and exec the
 * child may only make async-signal-safe calls (faxd is multi-threaded). The child then
 * makes itself a process group leader, drops into an empty network namespace, sets its
 * rlimits, resets signals, moves its descriptors into place and execs. A CLOEXEC
 * status pipe reports what failed before exec (and whether the network namespace was
 * refused). The parent waits on a pidfd and the stderr pipe with poll, so the wall-clock
 * timeout needs no signals or extra threads; it kills the whole process group both on
 * timeout and after the leader exits, because engines leave grandchildren behind
 * (oosplash → soffice.bin) that must never outlive their job. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert/convert_priv.h"

#define ERR_TAIL (sizeof ((struct fx_proc_result *)0)->err_tail)

/* What failed in the child before exec; the parent reads these from the status pipe. */
enum child_stage { STAGE_NETNS = 1, STAGE_LIMITS, STAGE_FDS, STAGE_CHDIR, STAGE_EXEC };
struct child_msg {
    int stage;
    int err;
};

/* Everything the child uses, made before fork. */
struct prep {
    char path[PATH_MAX];   /* resolved program */
    char *env[5];          /* the clean environment, NULL-terminated */
    char env_buf[3 * (PATH_MAX + 16)];
    int fd_in, fd_out, fd_err; /* become the child's 0, 1, 2 */
    int status_w;          /* CLOEXEC status pipe, write end */
};

static atomic_bool netns_warned;

/* ---- preparation (parent) ---- */

/* The child's PATH, also used to find the program (before fork, unlike execvp): the
 * program faxd runs does not depend on faxd's own environment. */
#define CHILD_PATH "/usr/bin:/bin"

static bool resolve_program(const char *name, char *out, size_t len)
{
    if (!name || !name[0]) return false;
    if (strchr(name, '/')) return fx_strlcpy(out, name, len) && access(out, X_OK) == 0;
    char dirs[] = CHILD_PATH;
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        int n = snprintf(out, len, "%s/%s", d, name);
        if (n > 0 && (size_t)n < len && access(out, X_OK) == 0) return true;
    }
    return false;
}

static void prep_env(struct prep *p, const char *dir)
{
    /* A minimal environment: faxd's own (secrets, proxies, locale quirks) is not passed
     * on. HOME and TMPDIR point into the private directory so engines write nothing
     * elsewhere (LibreOffice and fontconfig keep caches under HOME). */
    char *b = p->env_buf;
    size_t left = sizeof p->env_buf;
    const char *name[] = {"PATH", "HOME", "TMPDIR", "LANG"};
    const char *val[] = {CHILD_PATH, dir, dir, "C.UTF-8"};
    for (int i = 0; i < 4; i++) {
        int n = snprintf(b, left, "%s=%s", name[i], val[i]);
        p->env[i] = b;
        b += n + 1;
        left -= (size_t)n + 1;
    }
    p->env[4] = NULL;
}

static int open_or_null(const char *path, int flags)
{
    int fd = open(path ? path : "/dev/null", flags | O_CLOEXEC, 0600);
    return fd;
}

static void prep_close(struct prep *p)
{
    int *fds[] = {&p->fd_in, &p->fd_out, &p->fd_err, &p->status_w};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
}

/* ---- the child (async-signal-safe calls only) ---- */

static void child_report(int fd, int stage, int err)
{
    struct child_msg m = {stage, err};
    ssize_t w = write(fd, &m, sizeof m);
    (void)w;
}

static __attribute__((noreturn)) void child_fail(int fd, int stage)
{
    child_report(fd, stage, errno);
    _exit(127);
}

static void child_limits(const struct fx_proc_spec *s, int sfd)
{
    struct {
        int res;
        int64_t val;
    } lim[] = {
        {RLIMIT_AS, s->as_limit},      {RLIMIT_FSIZE, s->fsize_limit},
        {RLIMIT_CPU, s->cpu_s},        {RLIMIT_CORE, 0},
        {RLIMIT_NOFILE, 256},
    };
    for (size_t i = 0; i < sizeof lim / sizeof *lim; i++) {
        /* 0 means unlimited, except for core files, which are always off. */
        if (lim[i].val == 0 && lim[i].res != RLIMIT_CORE) continue;
        struct rlimit cur, rl = {(rlim_t)lim[i].val, (rlim_t)lim[i].val};
        if (lim[i].res == RLIMIT_CPU) rl.rlim_max = rl.rlim_cur + 5; /* SIGXCPU first */
        /* Never above the current hard limit: only root may raise it. */
        if (getrlimit(lim[i].res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
            if (rl.rlim_max > cur.rlim_max) rl.rlim_max = cur.rlim_max;
            if (rl.rlim_cur > rl.rlim_max) rl.rlim_cur = rl.rlim_max;
        }
        if (setrlimit(lim[i].res, &rl) != 0) child_fail(sfd, STAGE_LIMITS);
    }
}

/* Puts fd_in/fd_out/fd_err on 0/1/2 and the status pipe on 3 (still CLOEXEC), then
 * closes everything else. The descriptors are first lifted above 9 so that no dup2
 * overwrites one still to be moved. */
static void child_fds(struct prep *p)
{
    int src[4] = {p->fd_in, p->fd_out, p->fd_err, p->status_w};
    int hi[4];
    for (int i = 0; i < 4; i++) {
        hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10);
        if (hi[i] < 0) child_fail(p->status_w, STAGE_FDS);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(hi[i], i) < 0) child_fail(hi[3], STAGE_FDS);
    if (dup3(hi[3], 3, O_CLOEXEC) < 0) child_fail(hi[3], STAGE_FDS);
    p->status_w = 3;
    if (close_range(4, ~0U, 0) != 0) {
        for (int fd = 4; fd < 1024; fd++) close(fd);
    }
}

static __attribute__((noreturn)) void child_run(const struct fx_proc_spec *s, struct prep *p)
{
    setpgid(0, 0);
    /* Engines must not outlive faxd: if it dies, the leader is killed (and with it the
     * pipes its grandchildren would write to). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* faxd ignores SIGPIPE and blocks signals in its threads; exec keeps both. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    }
    child_fds(p);
    if (!s->allow_network && unshare(CLONE_NEWNET) != 0) child_report(3, STAGE_NETNS, errno);
    child_limits(s, 3);
    if (chdir(s->dir) != 0) child_fail(3, STAGE_CHDIR);
    execve(p->path, (char *const *)s->argv, p->env);
    child_fail(3, STAGE_EXEC);
}

/* ---- starting ---- */

static const char *stage_name(int stage)
{
    static const char *names[] = {"?", "netns", "rlimit", "fds", "chdir", "exec"};
    return stage > 0 && stage <= STAGE_EXEC ? names[stage] : "?";
}

/* Reads the child's status messages until exec closes the pipe. False when the child
 * failed before exec (it has then exited with 127; the caller reaps it). */
static bool read_child_status(int fd, const char *prog, pid_t pid)
{
    struct child_msg m;
    bool ok = true;
    for (;;) {
        ssize_t n = read(fd, &m, sizeof m);
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof m) break;
        if (m.stage == STAGE_NETNS) {
            if (!atomic_exchange(&netns_warned, true))
                fx_warn("convert sandbox without network namespace prog=%s error=\"%s\"", prog,
                        strerror(m.err));
            continue;
        }
        fx_error("convert child failed stage=%s prog=%s pid=%d error=\"%s\"",
                 stage_name(m.stage), prog, (int)pid, strerror(m.err));
        ok = false;
    }
    return ok;
}

static void reap(pid_t pid, struct rusage *ru)
{
    int st;
    while (wait4(pid, &st, 0, ru) < 0 && errno == EINTR) {
    }
}

/* Forks the child described by s with p's descriptors. *pid is set on success. */
static enum fx_err start_child(const struct fx_proc_spec *s, struct prep *p, pid_t *pid)
{
    if (!s->argv || !s->argv[0] || !s->dir || strlen(s->dir) >= PATH_MAX) return FX_ERR_INVALID;
    if (!resolve_program(s->argv[0], p->path, sizeof p->path)) {
        fx_error("convert program not found prog=%s", s->argv[0]);
        return FX_ERR_IO;
    }
    prep_env(p, s->dir);
    int sp[2];
    if (pipe2(sp, O_CLOEXEC) != 0) return FX_ERR_IO;
    p->status_w = sp[1];
    pid_t c = fork();
    if (c < 0) {
        close(sp[0]);
        return FX_ERR_IO;
    }
    if (c == 0) child_run(s, p);
    /* Both sides call setpgid so the group exists before the parent may kill it. */
    setpgid(c, c);
    close(p->status_w);
    p->status_w = -1;
    bool ok = read_child_status(sp[0], s->argv[0], c);
    close(sp[0]);
    if (!ok) {
        reap(c, NULL);
        return FX_ERR_IO;
    }
    *pid = c;
    return FX_OK;
}

/* ---- running to completion ---- */

/* Appends to the stderr tail, keeping its last ERR_TAIL-1 bytes. */
static void tail_add(char *tail, size_t *len, const char *buf, size_t n)
{
    const size_t cap = ERR_TAIL - 1;
    if (n >= cap) {
        memcpy(tail, buf + n - cap, cap);
        *len = cap;
    } else {
        if (*len + n > cap) {
            size_t drop = *len + n - cap;
            memmove(tail, tail + drop, *len - drop);
            *len -= drop;
        }
        memcpy(tail + *len, buf, n);
        *len += n;
    }
    tail[*len] = 0;
}

/* Reads what is available on the stderr pipe; false at EOF. */
static bool drain(int fd, struct fx_proc_result *res, size_t *len)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            tail_add(res->err_tail, len, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && errno == EAGAIN;
    }
}

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Waits for the leader to exit or the deadline to pass, collecting stderr. */
static void wait_child(pid_t pid, int err_fd, const struct fx_proc_spec *s,
                       struct fx_proc_result *res, int64_t t0)
{
    int pfd = pidfd_open_(pid);
    size_t len = 0;
    bool err_open = true;
    for (;;) {
        int timeout = -1;
        if (s->timeout_s > 0) {
            int64_t left = t0 + (int64_t)s->timeout_s * 1000 - fx_clock_mono_ms();
            if (left <= 0) {
                res->timed_out = true;
                break;
            }
            timeout = (int)left;
        }
        if (pfd < 0 && (timeout < 0 || timeout > 50)) timeout = 50; /* no pidfd: poll */
        struct pollfd fds[2] = {{err_fd, POLLIN, 0}, {pfd, POLLIN, 0}};
        if (!err_open) fds[0].fd = -1;
        int n = poll(fds, 2, timeout);
        if (n < 0 && errno != EINTR) break;
        if (err_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            err_open = drain(err_fd, res, &len);
        if (pfd >= 0 && (fds[1].revents & POLLIN)) break;
        if (pfd < 0) {
            /* WNOWAIT leaves the zombie in place for the group kill and wait4. */
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
                break;
        }
    }
    if (err_open) drain(err_fd, res, &len);
    if (pfd >= 0) close(pfd);
}

enum fx_err fx_proc_run(const struct fx_proc_spec *spec, struct fx_proc_result *res)
{
    memset(res, 0, sizeof *res);
    struct prep p = {.fd_in = -1, .fd_out = -1, .fd_err = -1, .status_w = -1};
    int errp[2] = {-1, -1};
    enum fx_err e = FX_ERR_IO;
    p.fd_in = open_or_null(spec->stdin_path, O_RDONLY);
    p.fd_out = open_or_null(spec->stdout_path, spec->stdout_path ? O_WRONLY | O_CREAT | O_TRUNC
                                                                 : O_WRONLY);
    if (p.fd_in < 0 || p.fd_out < 0 || pipe2(errp, O_CLOEXEC | O_NONBLOCK) != 0) goto out;
    p.fd_err = errp[1];
    int64_t t0 = fx_clock_mono_ms();
    pid_t pid;
    e = start_child(spec, &p, &pid);
    prep_close(&p);
    if (e) goto out;
    wait_child(pid, errp[0], spec, res, t0);
    /* The leader has exited (a zombie, so its group id cannot be reused yet) or timed
     * out: either way nothing of its group may go on running. */
    kill(-pid, SIGKILL);
    struct rusage ru;
    int st = 0;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
    }
    res->seconds = (double)(fx_clock_mono_ms() - t0) / 1000.0;
    res->max_rss_kb = ru.ru_maxrss;
    if (WIFEXITED(st)) {
        res->exit_code = WEXITSTATUS(st);
    } else {
        res->exit_code = -1;
        res->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    }
out:
    prep_close(&p);
    if (errp[0] >= 0) close(errp[0]);
    return e;
}

enum fx_err fx_proc_spawn(const struct fx_proc_spec *spec, pid_t *pid, int *to_child,
                          int *from_child)
{
    struct prep p = {.fd_in = -1, .fd_out = -1, .fd_err = -1, .status_w = -1};
    int in[2] = {-1, -1}, outp[2] = {-1, -1};
    enum fx_err e = FX_ERR_IO;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) goto out;
    p.fd_in = in[0];
    p.fd_out = outp[1];
    /* stderr: faxd's own, so the helper's messages land in faxd's log. */
    p.fd_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (p.fd_err < 0) goto out;
    e = start_child(spec, &p, pid);
    in[0] = outp[1] = -1; /* now owned by p */
    if (e) goto out;
    *to_child = in[1];
    *from_child = outp[0];
    in[1] = outp[0] = -1;
out:
    prep_close(&p);
    int fds[] = {in[0], in[1], outp[0], outp[1]};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0) close(fds[i]);
    return e;
}

void fx_proc_kill(pid_t pid)
{
    if (pid <= 0) return;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    reap(pid, NULL);
}

/* Parses /proc/<pid>/stat: the process group (field 5) and resident pages (field 24).
 * The command name (field 2) may hold spaces and parentheses, so parsing starts after
 * the last ')'. */
static bool read_stat(const char *pid_name, long *pgrp, long *rss_pages)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return false;
    /* After ')': state(3) ppid(4) pgrp(5) session ... rss(24). */
    char st;
    long ppid;
    if (sscanf(p + 1, " %c %ld %ld", &st, &ppid, pgrp) != 3) return false;
    const char *f = p + 1;
    for (int field = 3; field < 24 && f; field++) {
        f = strchr(f + 1, ' ');
    }
    if (!f) return false;
    *rss_pages = strtol(f + 1, NULL, 10);
    return true;
}

int64_t fx_proc_group_rss_kb(pid_t pid)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    int64_t kb = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        long pgrp, rss;
        if (read_stat(de->d_name, &pgrp, &rss) && pgrp == (long)pid) kb += (int64_t)rss * page_kb;
    }
    closedir(d);
    return kb;
}

/* ---- work directories ---- */

enum fx_err fx_workdir_new(const char *base, char *out, size_t len)
{
    if (!base || !base[0]) return FX_ERR_INVALID;
    enum fx_err e = fx_mkdirs(base);
    if (e) return e;
    int n = snprintf(out, len, "%s/job-XXXXXX", base);
    if (n < 0 || (size_t)n >= len) return FX_ERR_INVALID;
    if (!mkdtemp(out)) { /* mkdtemp makes it mode 0700 */
        fx_error("convert workdir not made base=%s error=\"%s\"", base, strerror(errno));
        out[0] = 0;
        return FX_ERR_IO;
    }
    return FX_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fx_warn("convert workdir entry not removed path=%s error=\"%s\"", path, strerror(errno));
    return 0;
}

void fx_workdir_remove(const char *dir)
{
    if (!dir || !dir[0]) return;
    /* Depth first, never following links out of the directory. */
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
