/* The converter settings the conversion tests share: real engines from PATH, generous
 * limits, work under the test's temporary directory. */
#ifndef FX_TEST_CONVERT_CFG_H
#define FX_TEST_CONVERT_CFG_H

#include <string.h>

#include "convert/convert.h"

static inline void fx_test_convert_cfg(struct fx_convert_cfg *cfg, const char *work_dir,
                                       const char *libexec)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->work_dir = work_dir;
    cfg->libexec_dir = libexec;
    cfg->timeout_s = 60;
    cfg->mem_limit = (int64_t)1 << 30;
    cfg->lo_mem_limit = (int64_t)1 << 30;
    cfg->lo_max_docs = 50;
    cfg->max_pages = 200;
    cfg->max_image_pixels = 64000000;
    cfg->gs = "gs";
    cfg->mutool = "mutool";
    cfg->qpdf = "qpdf";
    cfg->soffice = "soffice";
    cfg->python = "python3";
}

#endif
