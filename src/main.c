/* faxd: the fax server process. Loads the configuration, opens the store (applying
 * migrations), starts the queue, the webhook notifier and the API, and runs the
 * housekeeping tick until SIGTERM/SIGINT.
 * Signals are blocked in every thread and taken with sigtimedwait here, so no
 * handler ever runs inside library code.
 * SIGUSR1 drains the node (no new calls or work; calls in progress finish; /readyz
 * answers 503), SIGUSR2 undrains it. A signal, not a flag in the shared store: draining
 * is what an operator does to the one machine being upgraded, with the tools that
 * manage its process (`systemctl kill -s USR1 faxd`), and it needs no schema. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "conf/conf.h"
#include "core/core.h"
#include "notify/notify.h"
#include "queue/queue.h"
#include "store/store.h"

#define HOUSEKEEPING_SECONDS 60
#define ORPHAN_SECONDS (24 * 3600) /* a blob unnamed this long is named by nothing */

static void usage(FILE *f)
{
    fputs("usage: faxd [-c FILE] [--dump-config] [--list-routes] [--version]\n"
          "  -c, --config FILE  read options from FILE (INI; see conf/faxd.conf)\n"
          "  --dump-config      print the effective configuration and exit\n"
          "  --list-routes      print every API route and exit\n"
          "Every option can also be set from the environment: FAXD_<SECTION>_<KEY>.\n",
          f);
}

struct args {
    const char *config;
    bool dump, routes;
};

static int parse_args(int argc, char **argv, struct args *a)
{
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            a->config = argv[++i];
        } else if (!strcmp(argv[i], "--dump-config")) {
            a->dump = true;
        } else if (!strcmp(argv[i], "--list-routes")) {
            a->routes = true;
        } else if (!strcmp(argv[i], "--version")) {
            puts("faxd 0.1.0");
            return 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "faxd: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* Removes what a crash may have left in <data_dir>/tmp (downloads being built). */
static enum fx_err prepare_data_dir(const char *data_dir)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/tmp", data_dir);
    enum fx_err e = fx_mkdirs(tmp);
    if (e) fprintf(stderr, "faxd: cannot create %s: %s\n", tmp, strerror(errno));
    return e;
}

/* The periodic duties, once at start and then every minute by one of the nodes sharing
 * the store (`periodic`: only when this node claims the minute's turn). */
static void housekeeping(const struct fx_conf *conf, struct fx_store *store, bool periodic)
{
    fx_blob_sweep(store); /* this node's cache: on every node */
    if (periodic && !fx_store_duty_claim(store, "housekeeping", fx_clock_now(),
                                         HOUSEKEEPING_SECONDS - 1))
        return;
    int removed = 0;
    enum fx_err e = fx_store_upload_expire(store, fx_clock_now() - conf->upload_ttl, &removed);
    if (e) fx_warn("housekeeping upload expiry failed error=%s", fx_err_code(e));
    else if (removed) fx_info("housekeeping uploads expired count=%d", removed);
    /* Blobs whose records a crash deleted without them. */
    if ((removed = fx_blob_trash_empty(store)))
        fx_info("housekeeping blobs of deleted records removed count=%d", removed);
    /* Blobs that no record names: a pass reads every key, so once a day (the claim is in
     * the store, so restarts do not repeat it). */
    if (fx_store_duty_claim(store, "blob_orphans", fx_clock_now(), ORPHAN_SECONDS - 60) &&
        (removed = fx_blob_orphans_remove(store, ORPHAN_SECONDS)))
        fx_info("housekeeping blobs that no record names removed count=%d", removed);
}

static int run(const struct fx_conf *conf)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (prepare_data_dir(conf->data_dir)) return 1;
    int pidfd = -1;
    long holder = 0;
    enum fx_err pe = fx_pidfile_take(conf->data_dir, &pidfd, &holder);
    if (pe == FX_ERR_CONFLICT) {
        fprintf(stderr, "faxd: another faxd (pid %ld) is running on %s\n", holder,
                conf->data_dir);
        return 1;
    }
    if (pe) {
        fprintf(stderr, "faxd: cannot write %s/faxd.pid: %s\n", conf->data_dir,
                strerror(errno));
        return 1;
    }
    struct fx_store_cfg scfg = {.data_dir = conf->data_dir, .driver = conf->store_driver,
                                .node = conf->store_node, .pool = (int)conf->store_pool};
    struct fx_store *store = NULL;
    struct fx_api *api = NULL;
    struct fx_queue *queue = NULL;
    struct fx_notify *notify = NULL;
    enum fx_err e = fx_store_open(&scfg, &store);
    if (e) {
        fprintf(stderr, "faxd: cannot open the store in %s (%s)\n", conf->data_dir,
                fx_err_code(e));
        return 1;
    }
    /* Once before anything is served, so a restart never shows what it should expire. */
    housekeeping(conf, store, false);
    if ((e = fx_queue_start(conf, store, &queue))) {
        fprintf(stderr, "faxd: cannot start the converter workers or the lines (%s)\n",
                fx_err_code(e));
        fx_store_close(store);
        return 1;
    }
    if ((e = fx_notify_start(conf, store, &notify))) {
        fprintf(stderr, "faxd: cannot start the webhook notifier (%s)\n", fx_err_code(e));
        fx_queue_free(queue);
        fx_store_close(store);
        return 1;
    }
    if ((e = fx_api_start(conf, store, queue, &api))) {
        fprintf(stderr, "faxd: cannot listen on %s:%lld\n", conf->http_address,
                (long long)conf->http_port);
        fx_notify_stop(notify);
        fx_queue_free(queue);
        fx_store_close(store);
        return 1;
    }
    fx_info("faxd started data_dir=%s schema=%d", conf->data_dir,
            fx_store_schema_version(store));
    for (;;) {
        struct timespec ts = {.tv_sec = HOUSEKEEPING_SECONDS};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) break;
        if (sig == SIGHUP) fx_info("faxd SIGHUP ignored: restart to apply configuration");
        if (sig == SIGUSR1 || sig == SIGUSR2) {
            fx_queue_drain(queue, sig == SIGUSR1);
            fx_info("faxd %s", sig == SIGUSR1 ? "draining: no new calls or work"
                                              : "undrained: taking calls and work");
        }
        if (sig < 0) housekeeping(conf, store, true);
    }
    fx_info("faxd stopping");
    /* Workers first: waiting previews are answered (their connections resume) before
     * the HTTP server goes; the queue stays allocated until nothing can call it. */
    fx_queue_stop(queue);
    fx_api_stop(api);
    fx_notify_stop(notify);
    fx_queue_free(queue);
    fx_store_close(store);
    fx_info("faxd stopped");
    close(pidfd);
    return 0;
}

int main(int argc, char **argv)
{
    /* A fixed mmap threshold: large temporary buffers (libmagic's reads, JSON of long
     * lists) go back to the system when freed instead of growing the heap for good. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.routes) {
        fx_api_print_routes(stdout);
        return 0;
    }
    char why[512] = "";
    struct fx_conf *conf = NULL;
    if (fx_conf_load(a.config, &conf, why, sizeof why) != FX_OK) {
        fprintf(stderr, "faxd: configuration error: %s\n", why);
        return 2;
    }
    if (a.dump) {
        fx_conf_dump(conf, stdout);
        fx_conf_free(conf);
        return 0;
    }
    enum fx_log_level lvl;
    if (fx_log_level_parse(conf->log_level, &lvl)) fx_log_set_level(lvl);
    rc = run(conf);
    fx_conf_free(conf);
    return rc;
}
