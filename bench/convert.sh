#!/usr/bin/env bash
# bench/convert.sh — document conversion (src/convert): what faxd adds to the engines,
# what the warm LibreOffice saves, whether two converters use two cores, and how much
# memory each engine takes. Runs <build>/bench/convert_bench in each of its modes and
# prints a summary with PASS/FAIL per goal. Builds nothing.
#
# Usage: bench/convert.sh [BUILD_DIR]           (default /work/main/build)
# Environment (optional): BENCH_MODES (default "pdf50 docx mixed20 memory"),
#   BENCH_WORK (scratch base, default /tmp), BENCH_VERBOSE=1 (faxd's info log).
#
# Goals:
#   pdf50    50-page text PDF: median gs-alone time / median fx_convert_run time >= 0.9
#            (faxd's checks and sandbox add almost nothing to Ghostscript)
#   docx     warm DOCX->PDF p50 / cold `soffice --convert-to pdf` p50 <= 0.25, for
#            letter.docx and report.docx (same work); the whole conversion (-> TIFF,
#            Ghostscript included) against the same cold run is reported beside it
#   mixed20  20 documents on 2 converters in 2 threads: wall / sequential sum <= 0.7
#            (median of 3 rounds; each round also prints how busy other work kept the
#            machine, since one busy round on this shared machine can double a figure)
#   memory   informational; PASS when every engine stays under the limits faxd sets
#            (1 GiB RLIMIT_AS for gs/qpdf/mutool/faxd-cover, 1 GiB lo_mem_limit)
# Exit 0 all PASS, 1 a goal failed, 2 the benchmark could not run.
set -euo pipefail

BUILD=${1:-/work/main/build}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$BUILD/bench/convert_bench
MODES=${BENCH_MODES:-pdf50 docx mixed20 memory}

die() { echo "convert.sh: $*" >&2; exit 2; }
[[ -x $BENCH ]] || die "missing $BENCH (build the project first)"
[[ -x $BUILD/src/faxd-cover && -f $BUILD/src/lo_helper.py ]] || die "missing faxd-cover or lo_helper.py in $BUILD/src"
for t in gs qpdf mutool soffice; do command -v "$t" >/dev/null || die "missing tool: $t"; done

export FAXD_TEST_DATA=${FAXD_TEST_DATA:-$SRC/tests/data}
export FAXD_LIBEXEC_DIR=${FAXD_LIBEXEC_DIR:-$BUILD/src}

OUT=$(mktemp /tmp/faxd-bench-convert.XXXXXX)
trap 'rm -f "$OUT"' EXIT
trap 'exit 2' INT TERM

echo "convert.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "convert.sh: $BENCH, data $FAXD_TEST_DATA"
for m in $MODES; do
    echo
    # stdout is the report; the engines' own chatter on stderr is dropped.
    if ! "$BENCH" "$m" 2>/dev/null | tee -a "$OUT"; then
        die "convert_bench $m could not run (rerun it by hand to see why)"
    fi
done

# key=value from the RESULT line of a mode.
val() { awk -v mode="$1" -v key="$2" '$1 == "RESULT" && $2 == mode {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' "$OUT"; }
# PASS/FAIL of "value op limit" (op: ge or le).
judge() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    ok = (op == "ge") ? (v + 0 >= l + 0) : (v + 0 <= l + 0); print ok ? "PASS" : "FAIL" }'; }

FAIL=0
line() { # name value op limit text
    local r; r=$(judge "$2" "$3" "$4")
    [[ $r == FAIL ]] && FAIL=1
    printf '  %-4s %-44s %s\n' "$r" "$1" "$5"
}

echo
echo "== summary =="
for m in $MODES; do
    case $m in
    pdf50)
        line "pdf50: gs alone / faxd >= 0.9" "$(val pdf50 ratio)" ge 0.9 \
            "ratio $(val pdf50 ratio) (faxd $(val pdf50 faxd_p50_s) s, gs $(val pdf50 gs_p50_s) s)" ;;
    docx)
        for d in letter report; do
            line "docx: $d warm DOCX->PDF / cold <= 0.25" "$(val docx ${d}_ratio)" le 0.25 \
                "ratio $(val docx ${d}_ratio) (warm $(val docx ${d}_lo_p50_s) s, cold $(val docx ${d}_cold_p50_s) s)"
        done
        for d in letter report; do
            printf '  %-4s %-44s %s\n' "info" "docx: $d whole conversion / cold" \
                "ratio $(val docx ${d}_full_ratio) (warm fx_convert_run $(val docx ${d}_full_p50_s) s; $(judge "$(val docx ${d}_full_ratio)" le 0.25) against 0.25)"
        done ;;
    mixed20)
        line "mixed20: 2 threads wall / sequential <= 0.7" "$(val mixed20 ratio)" le 0.7 \
            "ratio $(val mixed20 ratio) (wall $(val mixed20 par_wall_s) s, sum $(val mixed20 seq_sum_s) s)" ;;
    memory)
        worst=$(printf '%s\n' "$(val memory gs_mb)" "$(val memory qpdf_mb)" "$(val memory mutool_mb)" \
            "$(val memory cover_mb)" | sort -g | tail -1)
        line "memory: engines under 1 GiB RLIMIT_AS" "$worst" le 1024 \
            "gs $(val memory gs_mb) MB, qpdf $(val memory qpdf_mb) MB, mutool $(val memory mutool_mb) MB, faxd-cover $(val memory cover_mb) MB"
        line "memory: LibreOffice under 1 GiB lo_mem_limit" "$(val memory lo_group_mb)" le 1024 \
            "group $(val memory lo_group_mb) MB after report.docx + ledger.xlsx (soffice.bin peak $(val memory lo_soffice_peak_mb) MB)" ;;
    *) die "unknown mode $m" ;;
    esac
done
exit $FAIL
