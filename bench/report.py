#!/usr/bin/env python3
"""Turns scripts/bench's raw runs into bench/RESULTS.md and the charts' data.

    python3 bench/report.py RESULTS_CSV META_TXT OUT_DIR

Medians over the repetitions for times and peak RSS; sizes are deterministic (a size that
differs between repetitions is reported). The summaries compare every tool with bsdiff and
with hdiffz (HDiffPatch, 1 MiB dictionary) over the pairs where every tool made and applied
its patch; the targets compare libdelta with every peer and with the previous mkdelta, whose
payloads are in bench/baseline.csv.

Writes OUT_DIR/RESULTS.md, and for each chart (sizes.svg: every pair; sizes-ARCH.svg: the
pairs of one architecture) OUT_DIR/work/NAME.dat and OUT_DIR/work/NAME.gpvars, the variables
bench/sizes.gp reads (gnuplot -e "load 'NAME.gpvars'" bench/sizes.gp).
"""
import csv
import math
import os
import statistics
import sys

# Every tool scripts/bench may run, in the order of the tables; those absent from the CSV
# (hdiffz when HDiffPatch is not installed) are left out.
TOOLS_ALL = ["libdelta", "libdelta-oop", "libdelta-noarch", "bsdiff", "xdelta3", "zstd", "hdiffz", "hdiffz-16m"]
NAMES = {
    "libdelta": "libdelta (in place)",
    "libdelta-oop": "libdelta --no-inplace",
    "libdelta-noarch": "libdelta --arch none",
    "bsdiff": "bsdiff 4.3",
    "xdelta3": "xdelta3 -9",
    "zstd": "zstd -19 --long=31",
    "hdiffz": "hdiffz 1 MiB",
    "hdiffz-16m": "hdiffz 16 MiB",
}
COLORS = {
    "libdelta": "#1b9e77",
    "libdelta-oop": "#66c2a5",
    "libdelta-noarch": "#b3e2cd",
    "xdelta3": "#d95f02",
    "zstd": "#7570b3",
    "hdiffz": "#e7298a",
    "hdiffz-16m": "#f4a6c9",
}
# The peers of the "smaller than every peer" target (hdiffz at the decoder memory libdelta uses).
PEERS = ["bsdiff", "xdelta3", "zstd", "hdiffz"]
ARCHS = ["thumb2", "x86-64", "aarch64"]
ARCH_NAMES = {"thumb2": "Thumb-2", "x86-64": "x86-64", "aarch64": "AArch64"}
# (tool, step) columns of the apply table, with the command that ran.
APPLY_ALL = [
    ("libdelta", "apply_inplace", "applydelta --image (in place)"),
    ("libdelta", "apply", "applydelta out of place"),
    ("libdelta-oop", "apply", "applydelta, --no-inplace pkg"),
    ("libdelta-noarch", "apply_inplace", "applydelta --image, --arch none pkg"),
    ("bsdiff", "apply", "bspatch"),
    ("xdelta3", "apply", "xdelta3 -d"),
    ("zstd", "apply", "zstd -d"),
    ("hdiffz", "apply", "hpatchz (1 MiB)"),
    ("hdiffz-16m", "apply", "hpatchz (16 MiB)"),
]
# The targets of the issue "Smallest packages of any tool".
SUM_TARGET = 0.80        # Σ payload against bsdiff's, over the corpus
PREV_TARGET = 15.0       # % smaller than the previous mkdelta, each Thumb-2 and x86-64 pair
LARGE_TIME_TARGET = 0.25  # mkdelta's time on next-swc against bsdiff's
INPLACE_TARGET = 3.0     # % of the out-of-place payload
APPLY_TIME_TARGET = 1.5  # in-place apply time against out of place
APPLY_TIME_FLOOR = 0.1   # s: below this out-of-place apply time, start-up and noise dominate
LARGE_NAME = "next-swc"


def apply_step(tool):
    return "apply_inplace" if tool in ("libdelta", "libdelta-noarch") else "apply"


def read_baseline(path):
    """The previous mkdelta: {(tool, pair): (bytes, commit)} and {pair: arch}; empty without the file."""
    if not os.path.exists(path):
        return {}, {}
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {(r["tool"], r["pair"]): (int(r["bytes"]), r["commit"]) for r in rows}, {r["pair"]: r["arch"] for r in rows}


def main(csv_path, meta_path, out_dir):
    meta, notes = {}, []
    with open(meta_path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            if k == "note":
                notes.append(v)
            else:
                meta[k] = v
    runs = {}  # (tool, pair, step) -> list of rows
    pairs, sizes, archs = [], {}, {}
    with open(csv_path) as f:
        for r in csv.DictReader(f):
            if r["pair"] not in sizes:
                pairs.append(r["pair"])
                sizes[r["pair"]] = (int(r["old_bytes"]), int(r["new_bytes"]))
                archs[r["pair"]] = r.get("arch") or "?"
            runs.setdefault((r["tool"], r["pair"], r["step"]), []).append(r)
    baseline_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline.csv")
    baseline, baseline_arch = read_baseline(baseline_path)
    for p in pairs:  # a results.csv from before the arch column: the baseline knows its pairs
        if archs[p] == "?" and p in baseline_arch:
            archs[p] = baseline_arch[p]

    present = {t for (t, _, _) in runs}
    tools = [t for t in TOOLS_ALL if t in present]
    apply_cols = [(t, s, n) for t, s, n in APPLY_ALL if t in present]
    has_hdiff = "hdiffz" in present
    peers = [t for t in PEERS if t in present]

    def result(tool, pair, step):
        """(status, bytes, seconds, kib) with medians over the repetitions that succeeded."""
        rows = runs.get((tool, pair, step))
        if not rows:
            return ("not run", None, None, None)
        bad = [r["status"] for r in rows if r["status"] != "ok"]
        if bad:
            return (bad[0], None, None, None)
        sizes_seen = {int(r["bytes"]) for r in rows if r["bytes"]}
        status = "ok" if len(sizes_seen) <= 1 else "nondeterministic sizes %s" % sorted(sizes_seen)
        return (
            status,
            min(sizes_seen) if sizes_seen else None,
            statistics.median(float(r["seconds"]) for r in rows),
            statistics.median(int(r["max_rss_kib"]) for r in rows),
        )

    def size(tool, pair):
        return result(tool, pair, "diff")[1]

    def label(pair):
        name, v1, v2 = pair.rsplit("-", 2)
        return "%s %s→%s" % (name, v1, v2)

    def arch_name(pair):
        return ARCH_NAMES.get(archs[pair], archs[pair])

    def mib(kib):
        return "%.1f" % (kib / 1024.0)

    def secs(s):
        return "%.2f" % s if s >= 0.1 else "%.3f" % s

    def err(status):
        return "**%s**" % status.replace("|", "/")

    def pct(x):
        return "%+.1f%%" % (100.0 * x)

    def geo(ratios):
        return math.exp(statistics.mean(math.log(r) for r in ratios))

    # Which pairs count in the summaries: every tool made and applied its patch.
    complete = [p for p in pairs
                if all(result(t, p, "diff")[0] == "ok" for t in tools)
                and all(result(t, p, s)[0] == "ok" for t, s, _ in apply_cols)]
    incomplete = [p for p in pairs if p not in complete]
    large_pairs = [p for p in pairs if p.rsplit("-", 2)[0] == LARGE_NAME]

    out = []
    w = out.append
    w("# Benchmark results")
    w("")
    w("Produced by `scripts/bench` on %s (commit %s). Raw runs: [`results.csv`](results.csv); "
      "charts: [`sizes.svg`](sizes.svg) (every pair), %s (one per architecture)."
      % (meta["date"], meta["commit"],
         ", ".join("[`sizes-%s.svg`](sizes-%s.svg)" % (a, a) for a in ARCHS if a in archs.values())))
    w("")
    w("- Machine: %s CPUs (`nproc`), %s, %s RAM, %s; load average at the end %s (a shared, "
      "noisy machine: compare ratios, not seconds)." % (meta["nproc"], meta["cpu"], meta["memory"],
                                                        meta["kernel"], meta["load"]))
    reps = meta["reps"]
    if meta["large"] == "1" and meta["large_reps"] != reps:
        reps += " (the large next-swc pair: %s)" % meta["large_reps"]
    w("- Timings: median of %s run%s; wall time from the clock, peak RSS from "
      "`/usr/bin/time -f %%M`. Sizes are deterministic." % (reps, "" if reps == "1" else "s"))
    versions = [meta["libdelta"], meta["bsdiff"], meta["xdelta3"], meta["zstd"]]
    if meta.get("hdiffpatch"):
        versions.append(meta["hdiffpatch"])
    w("- Versions: %s." % "; ".join(versions))
    w("- Corpus: %s. Architecture of each pair: %s."
      % ("Pybricks hub firmware (cityhub: STM32F030, Cortex-M0; primehub, essentialhub: STM32F413, "
         "Cortex-M4), esbuild for linux-x64 and linux-arm64, Next.js SWC for linux-x64 (`scripts/fetch-firmware`)",
         "; ".join("%s: %d pair%s" % (ARCH_NAMES.get(a, a), n, "" if n == 1 else "s")
                   for a, n in ((a, sum(1 for p in pairs if archs[p] == a)) for a in ARCHS + ["?"]) if n)))
    w("- Flags:")
    w("  - `mkdelta %s` (in place, the default: lzma2 with a 1 MiB dictionary, 4096-byte blocks, 8 MiB "
      "segments, at most 64 stashes, `--arch auto`: reference prediction where the code is detected and "
      "the patch gets smaller); `--no-inplace` added for the out-of-place payload, `--arch none` for the "
      "payload without reference prediction." % meta["mkdelta_flags"])
    w("  - `applydelta %s`, then `--source OLD --output NEW` or `--image FLASH`."
      % meta["applydelta_flags"])
    w("  - `bsdiff OLD NEW PATCH`; `bspatch OLD NEW PATCH` (Debian's, bzip2).")
    w("  - `xdelta3 %s` (default 64 MiB source window)." % meta["xdelta3_flags"])
    w("  - `zstd %s`: `--long=31` enables long-distance matching and raises the decoder's window "
      "limit, which inputs over 128 MiB need." % meta["zstd_flags"])
    if meta.get("hdiffpatch"):
        w("  - `hdiffz %s`: its best patches (HDiffPatch's own advice), two threads; the 1 MiB "
          "dictionary gives hpatchz the decoder memory mkdelta's LZMA2 gets, 16 MiB is its default size."
          % meta["hdiffz_flags"])
    else:
        w("  - hdiffz (HDiffPatch): **not run**, %s: its rows, its summary and its part of the targets are "
          "missing." % meta.get("hdiffpatch_skipped", "not found"))
    w("- Payload: the patch libdelta puts in `firmware.ldp` (`.images[0].patch.size` of the "
      "manifest); the package around it (zip, manifest, ECDSA signature) adds about 1.4 KiB. "
      "For the peers, the patch file.")
    w("- Every patch was applied and its result compared with the target (`cmp`); the in-place "
      "apply ran on a copy of the source.")
    for n in notes:
        w("- " + n)
    w("")

    def summary(tool, base, over):
        """Σ bytes, Σ / Σ base, geo. mean of ratios, diff time, diff memory, apply time, apply memory."""
        step = apply_step(tool)
        mine = [result(tool, p, "diff") for p in over]
        ref = [result(base, p, "diff") for p in over]
        mine_a = [result(tool, p, step) for p in over]
        ref_a = [result(base, p, apply_step(base)) for p in over]
        total = sum(m[1] for m in mine)
        return (total, total / sum(b[1] for b in ref),
                geo(m[1] / b[1] for m, b in zip(mine, ref)),
                statistics.median(m[2] / b[2] for m, b in zip(mine, ref)),
                max(m[3] for m in mine) / max(b[3] for b in ref),
                statistics.median(m[2] / b[2] for m, b in zip(mine_a, ref_a)),
                max(m[3] for m in mine_a) / max(b[3] for b in ref_a))

    summaries = {}  # base -> tool -> summary over the complete pairs

    def summary_table(base):
        w("| tool | Σ payload bytes | Σ vs %s | size ratio (geo. mean) | diff time | diff memory "
          "| apply time | apply memory |" % base)
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        summaries[base] = {}
        for t in tools:
            s = summaries[base][t] = summary(t, base, complete)
            w("| %s | %s | %.3f | %.3f | %.2f | %.2f | %.2f | %.2f |" % (NAMES[t], format(s[0], ","), *s[1:]))
        w("")

    over_text = ("Over %d pair%s%s" % (len(complete), "" if len(complete) == 1 else "s",
                                       "" if not incomplete else " (excluded, as some tool failed: %s)"
                                       % ", ".join(label(p) for p in incomplete)))
    w("## Summary: ratios against bsdiff")
    w("")
    w("%s. Size: Σ payload bytes and the geometric mean of the per-pair ratio; diff and apply time: "
      "median of the per-pair ratios; memory: the largest peak RSS over the corpus against bsdiff's "
      "largest. Below 1 is better than bsdiff. libdelta's apply columns are the in-place apply (what a "
      "device runs), also for `--arch none`; the `--no-inplace` row is applied out of place." % over_text)
    w("")
    if complete:
        summary_table("bsdiff")
        mine_a = [result("libdelta", p, "apply") for p in complete]
        ref_a = [result("bsdiff", p, "apply") for p in complete]
        w("Applied out of place instead, libdelta's in-place package has an apply-time ratio of "
          "%.2f and an apply-memory ratio of %.2f."
          % (statistics.median(m[2] / b[2] for m, b in zip(mine_a, ref_a)),
             max(m[3] for m in mine_a) / max(b[3] for b in ref_a)))
    else:
        w("(No pair completed for every tool.)")
    w("")

    w("## Summary: ratios against HDiffPatch")
    w("")
    if not has_hdiff:
        w("Not run: HDiffPatch was %s." % meta.get("hdiffpatch_skipped", "not found"))
    elif complete:
        w("The same columns against `hdiffz` with a 1 MiB dictionary (hpatchz's apply for the apply "
          "columns). Below 1 is better than hdiffz.")
        w("")
        summary_table("hdiffz")
    else:
        w("(No pair completed for every tool.)")
    w("")

    # Per architecture: the same sums over the pairs of one architecture, and their charts.
    bases = ["bsdiff"] + (["hdiffz"] if has_hdiff else [])
    arch_pairs = {a: [p for p in complete if archs[p] == a] for a in ARCHS}
    arch_pairs = {a: ps for a, ps in arch_pairs.items() if ps}
    if arch_pairs:
        w("## Per architecture")
        w("")
        w("Σ payload of the pairs of one architecture against Σ of %s (geometric mean of the per-pair "
          "ratios in parentheses). Charts: %s." % (" and ".join(bases), ", ".join(
              "[%s](sizes-%s.svg)" % (ARCH_NAMES[a], a) for a in arch_pairs)))
        w("")
        head = ["tool"]
        for a, ps in arch_pairs.items():
            for b in bases:
                head.append("%s (%d) vs %s" % (ARCH_NAMES[a], len(ps), b))
        w("| " + " | ".join(head) + " |")
        w("|---|" + "---:|" * (len(head) - 1))
        for t in tools:
            cells = []
            for a, ps in arch_pairs.items():
                for b in bases:
                    s = summary(t, b, ps)
                    cells.append("%.3f (%.3f)" % (s[1], s[2]))
            w("| %s | %s |" % (NAMES[t], " | ".join(cells)))
        w("")

    # The previous mkdelta (bench/baseline.csv) and what reference prediction buys, per pair.
    prev_pairs = [p for p in pairs if ("libdelta", p) in baseline and size("libdelta", p) is not None]
    w("## Against the previous mkdelta; what reference prediction buys")
    w("")
    if baseline:
        commits = sorted({c for (_, c) in baseline.values()})
        w("Previous: the in-place payload of mkdelta before reference prediction, from "
          "[`baseline.csv`](baseline.csv) (the committed results of commit%s %s). `--arch none`: "
          "today's mkdelta without prediction; `--arch auto`: today's default. Below 0 is smaller."
          % ("" if len(commits) == 1 else "s", ", ".join(commits)))
    else:
        w("No `bench/baseline.csv`: the previous mkdelta's payloads are unknown.")
    w("")
    w("| pair | arch | previous | --arch none | --arch auto | auto vs previous | auto vs none |")
    w("|---|---|---:|---:|---:|---:|---:|")
    for p in pairs:
        now, none = size("libdelta", p), size("libdelta-noarch", p)
        prev = baseline.get(("libdelta", p), (None, None))[0]
        w("| %s | %s | %s | %s | %s | %s | %s |" % (
            label(p), arch_name(p),
            format(prev, ",") if prev else "",
            format(none, ",") if none is not None else err(result("libdelta-noarch", p, "diff")[0]),
            format(now, ",") if now is not None else err(result("libdelta", p, "diff")[0]),
            pct(now / prev - 1) if prev and now else "",
            pct(now / none - 1) if none and now else ""))
    w("")

    # The targets of the issue, met or missed, by how much.
    def yes(ok, miss=""):
        return "yes" if ok else "**no**" + (" (%s)" % miss if miss else "")

    w("## Targets")
    w("")
    w("The targets of the issue \"Smallest packages of any tool\", for libdelta's in-place package.")
    w("")
    w("| target | measured | met |")
    w("|---|---|:---:|")
    if complete:
        # Smaller than every peer on every pair.
        closest = []  # (ratio to the smallest peer, pair, peer)
        for p in complete:
            best = min(peers, key=lambda t: size(t, p))
            closest.append((size("libdelta", p) / size(best, p), p, best))
        larger = [c for c in closest if c[0] >= 1]
        worst = max(closest)
        text = ("smaller on %d of %d pairs; closest: %s against %s on %s"
                % (len(closest) - len(larger), len(closest), pct(worst[0] - 1), NAMES[worst[2]], label(worst[1])))
        if larger:
            text += "; larger on " + ", ".join("%s (%s against %s)" % (label(p), pct(r - 1), NAMES[t])
                                               for r, p, t in sorted(larger, reverse=True))
        if incomplete:
            text += "; %d pair%s excluded (some tool failed)" % (len(incomplete), "" if len(incomplete) == 1 else "s")
        w("| smaller than every peer (%s) on every pair | %s | %s |"
          % (", ".join(NAMES[t] for t in peers), text,
             (yes(not larger) if not incomplete else "not measured on every pair")
             + ("" if has_hdiff else " (without hdiffz)")))

        # Σ payload against bsdiff.
        s = summaries["bsdiff"]["libdelta"]
        scope = "" if large_pairs and all(p in complete for p in large_pairs) else " (without next-swc)"
        if incomplete:
            scope += " (without %s: some tool failed)" % ", ".join(label(p) for p in incomplete)
        w("| Σ payload over the corpus at most %.2fx bsdiff's | %.3fx (%s)%s | %s |"
          % (SUM_TARGET, s[1], pct(s[1] - 1), scope,
             yes(s[1] <= SUM_TARGET, "missed by %.3f" % (s[1] - SUM_TARGET))))

    # At least 15% smaller than the previous mkdelta on the Thumb-2 and x86-64 pairs.
    cut = [(1 - size("libdelta", p) / baseline[("libdelta", p)][0], p)
           for p in prev_pairs if archs[p] in ("thumb2", "x86-64")]
    if cut:
        low = min(cut)
        sums = []
        for a in ("thumb2", "x86-64"):
            ps = [p for _, p in cut if archs[p] == a]
            if ps:
                sums.append("Σ %s %s" % (ARCH_NAMES[a], pct(sum(size("libdelta", p) for p in ps) /
                                                             sum(baseline[("libdelta", p)][0] for p in ps) - 1)))
        short = [(c, p) for c, p in cut if 100 * c < PREV_TARGET]
        w("| at least %.0f%% smaller than the previous mkdelta on each Thumb-2 and x86-64 pair | %d of %d pairs; "
          "smallest reduction %.1f%% (%s); %s | %s |"
          % (PREV_TARGET, len(cut) - len(short), len(cut), 100 * low[0], label(low[1]), "; ".join(sums),
             yes(not short, "missed on %d pair%s, by up to %.1f points"
                 % (len(short), "" if len(short) == 1 else "s", PREV_TARGET - 100 * low[0]))))
    else:
        w("| at least %.0f%% smaller than the previous mkdelta on each Thumb-2 and x86-64 pair | no pair with "
          "a previous figure | not measured |" % PREV_TARGET)

    # next-swc: time and memory against bsdiff.
    big = [p for p in large_pairs if result("libdelta", p, "diff")[2] and result("bsdiff", p, "diff")[2]]
    if big:
        p = big[0]
        mine, ref = result("libdelta", p, "diff"), result("bsdiff", p, "diff")
        tr, mr = mine[2] / ref[2], mine[3] / ref[3]
        w("| on %s, mkdelta at most %.2fx bsdiff's time | %.2fx (%s s against %s s) | %s |"
          % (label(p), LARGE_TIME_TARGET, tr, secs(mine[2]), secs(ref[2]),
             yes(tr <= LARGE_TIME_TARGET, "missed by %.2f" % (tr - LARGE_TIME_TARGET))))
        w("| on %s, mkdelta's peak memory at most bsdiff's | %.2fx (%s MiB against %s MiB) | %s |"
          % (label(p), mr, mib(mine[3]), mib(ref[3]), yes(mr <= 1.0, "missed by %.2f" % (mr - 1))))
    else:
        w("| on next-swc, mkdelta at most %.2fx bsdiff's time and no more memory | %s | not measured |"
          % (LARGE_TIME_TARGET, "failed (see Failures)" if large_pairs else "not run (`--no-large`)"))

    # In-place payload against out of place.
    over = [(100.0 * (size("libdelta", p) - size("libdelta-oop", p)) / size("libdelta-oop", p), p)
            for p in pairs if size("libdelta", p) is not None and size("libdelta-oop", p) is not None]
    if over:
        hi = max(over)
        w("| in-place payload within %.0f%% of out of place | largest overhead %+.2f%% (%s) | %s |"
          % (INPLACE_TARGET, hi[0], label(hi[1]),
             yes(hi[0] <= INPLACE_TARGET, "missed by %.2f points" % (hi[0] - INPLACE_TARGET))))

    # In-place apply time against out of place.
    times = []
    for p in pairs:
        ip, op = result("libdelta", p, "apply_inplace"), result("libdelta", p, "apply")
        if ip[2] and op[2]:
            times.append((ip[2] / op[2], p, op[2]))
    judged = [t for t in times if t[2] >= APPLY_TIME_FLOOR]
    if times:
        text = "median %.2fx over %d pairs" % (statistics.median(t[0] for t in times), len(times))
        if judged:
            hi = max(judged)
            text += ("; on the %d pair%s where out of place takes %.1f s or more, at most %.2fx (%s)"
                     % (len(judged), "" if len(judged) == 1 else "s", APPLY_TIME_FLOOR, hi[0], label(hi[1])))
            met = yes(hi[0] <= APPLY_TIME_TARGET, "missed by %.2f" % (hi[0] - APPLY_TIME_TARGET))
        else:
            met = "not measured (every apply under %.1f s)" % APPLY_TIME_FLOOR
        w("| in-place apply time at most %.1fx out of place | %s | %s |" % (APPLY_TIME_TARGET, text, met))
    w("")
    w("Apply times under %.1f s are start-up and noise on this machine: the apply-time target is judged on the "
      "pairs whose out-of-place apply takes longer; the median covers every pair." % APPLY_TIME_FLOOR)
    w("")

    # What the never-brick guarantees cost (formats/update.md): the state area with the rollback
    # backup and the package copy, against the work area and journal alone; the in-place apply
    # (which now also writes each block's backup) against the out-of-place one.
    state_pairs = [p for p in pairs if result("libdelta", p, "state")[0] == "ok"]
    if state_pairs:
        w("## Rollback and authenticated apply: what they cost")
        w("")
        w("The state area holds the work area and the journal, plus, since the update session, a copy of "
          "the manifest and patches (what is applied is what was hashed) and a backup of every block before "
          "it is overwritten (so that five failed tries restore the exact source). Payload: no change (the "
          "backup is made on the device). Time: the in-place apply below includes the backup writes.")
        w("")
        w("| pair | image | state, work + journal | state, with copy + backup | x image | in place | out of place "
          "| in place / out of place | apply memory (MiB) |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        ratios = []
        for p in state_pairs:
            rows = runs[("libdelta", p, "state")]
            bare = int(rows[0]["file_bytes"])
            full = int(rows[0]["bytes"])
            ip, op = result("libdelta", p, "apply_inplace"), result("libdelta", p, "apply")
            r = ip[2] / op[2] if ip[2] and op[2] else float("nan")
            ratios.append(r)
            w("| %s | %s | %s | %s | %.2f | %s | %s | %.2f | %s |"
              % (label(p), format(sizes[p][0], ","), format(bare, ","), format(full, ","), full / sizes[p][0],
                 secs(ip[2]) if ip[2] else err(ip[0]), secs(op[2]) if op[2] else err(op[0]), r,
                 mib(ip[3]) if ip[3] else ""))
        w("")
        w("Median in-place / out-of-place apply time: %.2f." % statistics.median(ratios))
        w("")

    # In-place overhead.
    w("## In-place overhead")
    w("")
    w("The in-place payload (an order of writes that never overwrites a block it still reads, "
      "plus stashes) against the out-of-place payload of the same pair. Target: at most %.0f%%."
      % INPLACE_TARGET)
    w("")
    w("| pair | in place | out of place | overhead | within %.0f%% |" % INPLACE_TARGET)
    w("|---|---:|---:|---:|:---:|")
    for p in pairs:
        a, b = result("libdelta", p, "diff"), result("libdelta-oop", p, "diff")
        if a[1] is None or b[1] is None:
            w("| %s | %s | %s | | |" % (label(p), a[1] if a[1] is not None else err(a[0]),
                                         b[1] if b[1] is not None else err(b[0])))
            continue
        o = 100.0 * (a[1] - b[1]) / b[1]
        w("| %s | %s | %s | %+.2f%% | %s |" % (label(p), format(a[1], ","), format(b[1], ","), o,
                                               "yes" if o <= INPLACE_TARGET else "**no**"))
    if over:
        w("")
        w("Largest overhead: %+.2f%%." % max(over)[0])
    w("")

    # What a memory cap on the diff costs (mkdelta --max-memory: windowed matching).
    caps = sorted({t for (t, _, _) in runs if t.startswith("libdelta-cap")},
                  key=lambda t: int(t[len("libdelta-cap"):-1]))
    if caps:
        w("## Memory cap: `mkdelta --max-memory`")
        w("")
        w("Below the suffix array's size (4 bytes per source byte), the diff matches each part of the "
          "target against a window of the source around its place, one window's suffix array at a time. "
          "Payload against the uncapped in-place package; every capped package was applied in place and "
          "compared with the target.")
        w("")
        w("Time and peak RSS are mkdelta's whole run: both images are mapped and the compressor's buffers "
          "count too, so the RSS falls less than the diff's own memory (the suffix array: 4 bytes per source "
          "byte, capped to 3/4 of the cap).")
        w("")
        w("| pair | cap | payload | vs uncapped | mkdelta time | mkdelta peak RSS |")
        w("|---|---:|---:|---:|---:|---:|")
        for p in pairs:
            base = result("libdelta", p, "diff")
            if ("libdelta", p, "diff") not in runs or not any((t, p, "diff") in runs for t in caps):
                continue
            w("| %s | none | %s | | %s s | %s MiB |" % (label(p), format(base[1], ",") if base[1] else err(base[0]),
                                                         secs(base[2]), mib(base[3])))
            for t in caps:
                r = result(t, p, "diff")
                if (t, p, "diff") not in runs:
                    continue
                if r[1] is None or base[1] is None:
                    w("| %s | %s | %s | | | |" % (label(p), t[len("libdelta-cap"):], err(r[0])))
                    continue
                w("| %s | %s | %s | %+.2f%% | %s s | %s MiB |" % (label(p), t[len("libdelta-cap"):], format(r[1], ","),
                                                          100.0 * (r[1] - base[1]) / base[1], secs(r[2]), mib(r[3])))
        w("")

    # Sizes.
    w("## Payload size")
    w("")
    w("Bytes, and in parentheses % of the new image.")
    w("")
    w("| pair | arch | old | new | " + " | ".join(NAMES[t] for t in tools) + " |")
    w("|---|---|---:|---:|" + "---:|" * len(tools))
    for p in pairs:
        old, new = sizes[p]
        cells = []
        for t in tools:
            r = result(t, p, "diff")
            cells.append("%s (%.2f%%)" % (format(r[1], ","), 100.0 * r[1] / new)
                         if r[1] is not None else err(r[0]))
        w("| %s | %s | %s | %s | %s |" % (label(p), arch_name(p), format(old, ","), format(new, ","), " | ".join(cells)))
    w("")

    # Diff time and memory.
    w("## Diff: time and peak memory")
    w("")
    w("Seconds / MiB of peak RSS. mkdelta compresses with one thread per core%s."
      % (", hdiffz with two (`-p-2`)" if has_hdiff else ""))
    w("")
    w("| pair | " + " | ".join(NAMES[t] for t in tools) + " |")
    w("|---|" + "---:|" * len(tools))
    for p in pairs:
        cells = []
        for t in tools:
            r = result(t, p, "diff")
            cells.append("%s s / %s MiB" % (secs(r[2]), mib(r[3])) if r[2] is not None else err(r[0]))
        w("| %s | %s |" % (label(p), " | ".join(cells)))
    w("")

    # Apply time and memory.
    w("## Apply: time and peak memory")
    w("")
    w("Seconds / MiB of peak RSS; each result compared with the target.")
    w("")
    w("| pair | " + " | ".join(n for _, _, n in apply_cols) + " |")
    w("|---|" + "---:|" * len(apply_cols))
    for p in pairs:
        cells = []
        for t, s, _ in apply_cols:
            r = result(t, p, s)
            cells.append("%s s / %s MiB" % (secs(r[2]), mib(r[3])) if r[2] is not None else err(r[0]))
        w("| %s | %s |" % (label(p), " | ".join(cells)))
    w("")

    failed = sorted({(k[0], k[1], k[2], r["status"]) for k, rows in runs.items() for r in rows
                     if r["status"] != "ok"})
    w("## Failures")
    w("")
    if failed:
        for t, p, s, st in failed:
            w("- %s, %s, %s: %s" % (NAMES.get(t, t), label(p), s, st))
    else:
        w("None: every patch was made, applied, and its result equalled the target.")
    w("")

    with open(out_dir + "/RESULTS.md", "w") as f:
        f.write("\n".join(out))

    # The charts: payload as % of bsdiff's, one bar per tool but bsdiff; sizes.svg has every pair,
    # sizes-ARCH.svg the pairs of one architecture.
    bars = [t for t in tools if t != "bsdiff"]
    charts = [("sizes", "every pair", pairs)]
    charts += [("sizes-" + a, ARCH_NAMES[a], [p for p in pairs if archs[p] == a]) for a in ARCHS]
    for old in os.listdir(out_dir + "/work"):
        if old.startswith("sizes") and old.endswith(".gpvars"):
            os.remove(out_dir + "/work/" + old)
    for name, what, ps in charts:
        if not ps:
            continue
        dat = "%s/work/%s.dat" % (out_dir, name)
        with open(dat, "w") as f:
            f.write("# payload as % of bsdiff's; bench/sizes.gp reads the first line as the titles\n")
            f.write('"pair" "versions" %s\n' % " ".join('"%s"' % NAMES[t] for t in bars))
            for p in ps:
                b = size("bsdiff", p)
                vals = ["%.2f" % (100.0 * size(t, p) / b) if size(t, p) is not None and b else "?" for t in bars]
                pname, v1, v2 = p.rsplit("-", 2)
                f.write('"%s" "%s→%s" %s\n' % (pname, v1, v2, " ".join(vals)))
        with open("%s/work/%s.gpvars" % (out_dir, name), "w") as f:
            f.write("dat = '%s'\n" % dat)
            f.write("svg = '%s/%s.svg'\n" % (out_dir, name))
            f.write("ncol = %d\n" % len(bars))
            f.write("colors = '%s'\n" % " ".join(COLORS[t] for t in bars))
            f.write("width = %d\n" % max(800, min(1600, 160 + 22 * len(bars) * len(ps))))
            f.write("what = '%s'\n" % what)

    # The summary rows, for the README.
    with open(out_dir + "/work/summary.txt", "w") as f:
        for base, table in summaries.items():
            f.write("against %s:\n" % base)
            for t in tools:
                if t in table:
                    f.write("| %s | %.3f | %.3f | %.2f | %.2f | %.2f | %.2f |\n" % (NAMES[t], *table[t][1:]))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: report.py RESULTS_CSV META_TXT OUT_DIR")
    main(*sys.argv[1:])
