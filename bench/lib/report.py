#!/usr/bin/python3
"""The benchmark table: medians and ratios to du, and the issue's targets, as Markdown.

    report.py --raw RUN.jsonl [--machine FILE] [--load TEXT] [--elapsed S] [--runs N] [--smoke]
    report.py --splice DOC.md TABLE.md     replace DOC's text between the bench markers with TABLE

Only runs that completed and delivered every byte (ok) count; failed runs are listed.
"""
import json
import os
import statistics
import sys
import time

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
ORDER = ["du", "du-md5", "du-tuned", "rclone", "aws", "s3cmd", "curl"]
LABEL = {
    "du": "du-upload (defaults: -w 15, find scan)",
    "du-md5": "du-upload --checksum-algorithm=md5",
    "du-tuned": "du-upload -w 32 --use-find=false",
    "rclone": "rclone copy --transfers 16",
    "aws": "aws s3 cp --recursive",
    "s3cmd": "s3cmd put -r",
    "curl": "curl --parallel --parallel-max 16",
}
MIB = 1024 * 1024


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, nd=2):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def uploads(recs):
    """{scen: {tool: summary}} from the upload runs, scenario order kept."""
    out = {}
    for r in recs:
        if r.get("kind") != "upload":
            continue
        s = out.setdefault(r["scen"], {"target": r["target"], "files": int(r["files"]),
                                       "bytes": int(r["bytes"]), "tools": {}})
        t = s["tools"].setdefault(r["tool"], {"ok": [], "failed": []})
        (t["ok"] if r.get("ok") else t["failed"]).append(r)
    for s in out.values():
        for t in s["tools"].values():
            ok = t["ok"]
            t["wall"] = med([r["wall"] for r in ok])
            t["cpu"] = med([r["user"] + r["sys"] for r in ok])
            t["rss"] = med([r["rss_kb"] / 1024 for r in ok])
            t["pg"] = med([r.get("pg_cpu", 0) for r in ok])
    return out


def upload_tables(ups, lines):
    for scen, s in ups.items():
        big = s["files"] < 10
        lines.append("")
        lines.append(f"**{scen}**: {s['files']:,} file(s), {s['bytes'] / MIB:,.1f} MiB, to "
                     f"{ {'sink': 'the nginx null sink', 'rgw': 'Ceph RGW'}.get(s['target'], s['target'])}")
        lines.append("")
        unit = "MiB/s" if big else "files/s"
        cpu_unit = "CPU s/GiB" if big else "CPU ms/file"
        lines.append(f"| client | runs | wall s (median) | {unit} | {cpu_unit} | peak RSS MiB | PostgreSQL CPU s "
                     "| du ÷ client | du-tuned ÷ client |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        du = s["tools"].get("du", {}).get("wall")
        dut = s["tools"].get("du-tuned", {}).get("wall")
        for tool in ORDER:
            t = s["tools"].get(tool)
            if not t:
                continue
            w = t["wall"]
            runs = f"{len(t['ok'])}" + (f" (+{len(t['failed'])} failed)" if t["failed"] else "")
            if w is None:
                lines.append(f"| {LABEL[tool]} | {runs} | failed | | | | | | |")
                continue
            rate = (s["bytes"] / MIB / w) if big else (s["files"] / w)
            cpu = (t["cpu"] / (s["bytes"] / 2**30)) if big else (t["cpu"] * 1000 / s["files"])
            r1 = w / du if du else None
            r2 = w / dut if dut else None
            pg = t["pg"] if tool.startswith("du") else None
            lines.append(f"| {LABEL[tool]} | {runs} | {fmt(w)} | {fmt(rate, 1)} | {fmt(cpu, 3)} | {fmt(t['rss'], 1)} "
                         f"| {fmt(pg)} | {fmt(r1)} | {fmt(r2)} |")
        for tool in ORDER:
            t = s["tools"].get(tool)
            for r in (t or {}).get("failed", []):
                lines.append(f"\n{LABEL[tool]} run {r.get('run')} failed: {r.get('note', 'exit %s' % r.get('rc'))}")


def scan_section(recs, lines):
    scans = [r for r in recs if r.get("kind") == "scan"]
    if not scans:
        return {}
    n = scans[0]["files"]
    base = next((r["wall"] for r in scans if r["variant"].startswith("find")), None)
    lines.append("")
    lines.append(f"**scan** of {n:,} files, warm cache, best of the runs (bench/scan_bench compare):")
    lines.append("")
    lines.append("| walker | wall s | ÷ find -printf |")
    lines.append("|---|---|---|")
    for r in scans:
        lines.append(f"| {r['variant']} | {fmt(r['wall'], 3)} | {fmt(r['wall'] / base if base else None)} |")
    return {r["variant"]: r["wall"] for r in scans} | {"_base": base}


def resync_section(recs, lines):
    """Re-runs over a bucket that already holds the tree (bench/run.sh, resync)."""
    rs = [r for r in recs if r.get("kind") == "resync"]
    if not rs:
        return
    lines.append("")
    lines.append("**re-runs** over a bucket (s3rver) that already holds the tree: nothing changed (listing and rows "
                 "decide, no file read), after `touch` of every file (each hashed and compared with its ETag, "
                 "none sent), the run after that, and `cat` of the same tree as the floor of reading it:")
    lines.append("")
    lines.append("| re-run | files | wall s | CPU s | peak RSS MiB |")
    lines.append("|---|---|---|---|---|")
    for r in rs:
        cpu = (r.get("user") or 0) + (r.get("sys") or 0)
        rss = r.get("rss_kb")
        lines.append(f"| {r['variant']} | {int(r['files']):,} | {fmt(r.get('wall'))} | {fmt(cpu)} "
                     f"| {fmt(rss / 1024 if rss else None, 1)} |")


def retry_section(recs, lines):
    """du-retry re-sending a session's files, all marked failed, against du-upload sending them (retry)."""
    rs = [r for r in recs if r.get("kind") == "retry"]
    if not rs:
        return None
    up = med([r["wall"] for r in rs if r["variant"] == "upload"])
    rt = med([r["wall"] for r in rs if r["variant"] == "retry"])
    n = int(rs[0]["files"])
    lines.append("")
    lines.append(f"**du-retry at scale**: {n:,} files of 4 KiB to the sink, sent by du-upload, then every row "
                 "marked failed and the same files sent again by du-retry:")
    lines.append("")
    lines.append("| run | wall s | CPU s | files/s |")
    lines.append("|---|---|---|---|")
    for v, w in (("upload", up), ("retry", rt)):
        cpu = med([(r.get("user") or 0) + (r.get("sys") or 0) for r in rs if r["variant"] == v])
        lines.append(f"| du-{v} | {fmt(w)} | {fmt(cpu)} | {fmt(n / w if w else None, 0)} |")
    return rt / up if up and rt else None


def register_section(recs, lines):
    regs = [r for r in recs if r.get("kind") == "register"]
    rss = [r for r in recs if r.get("kind") == "scanrss"]
    res = {}
    if regs:
        sizes = sorted({int(r["files"]) for r in regs})
        lines.append("")
        lines.append("**registration**: du-upload's scan + S3 listing + COPY + decision + INSERT of every row "
                     "(sync_sessions.scanned_at − started_at), against `psql \\copy` of the same rows into "
                     "file_uploads; peak RSS of the whole du-upload process:")
        lines.append("")
        lines.append("| rows | who | runs | median s | ÷ psql \\copy | rows/s | peak RSS MiB | PostgreSQL CPU s |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for n in sizes:
            by = {}
            for r in regs:
                if int(r["files"]) == n:
                    by.setdefault(r["tool"], []).append(r)
            copy = med([r["register_s"] for r in by.get("psql-copy", []) if r.get("ok")])
            for tool in ("du", "du-tuned", "psql-copy"):
                rs = [r for r in by.get(tool, []) if r.get("ok") and r.get("register_s")]
                s = med([r["register_s"] for r in rs])
                m = med([r["rss_kb"] / 1024 for r in rs])
                pg = med([r.get("pg_cpu", 0) for r in rs])
                res[(n, tool)] = (s, m)
                bad = len(by.get(tool, [])) - len(rs)
                lines.append(f"| {n:,} | {LABEL.get(tool, tool)} | {len(rs)}{f' (+{bad} failed)' if bad else ''} "
                             f"| {fmt(s)} | {fmt(s / copy if s and copy else None)} "
                             f"| {fmt(n / s if s else None, 0)} | {fmt(m, 1)} | {fmt(pg)} |")
    if rss:
        lines.append("")
        lines.append("Peak RSS of bench/scan_bench (du_scan alone, native walker): " + ", ".join(
            f"{int(r['files']):,} files: {r['rss_kb'] / 1024:.1f} MiB" for r in rss))
    return res


def target_rows(ups, scan, reg):
    rows = []

    def tool(scen_pred, t):
        for scen, s in ups.items():
            if scen_pred(scen, s) and t in s["tools"] and s["tools"][t]["wall"]:
                return scen, s, s["tools"][t]
        return None, None, None

    small_sink = [sc for sc, s in ups.items() if s["target"] == "sink" and s["files"] >= 10]
    for scen in small_sink:
        s = ups[scen]
        for du in ("du", "du-tuned"):
            d = s["tools"].get(du)
            if not d or not d["wall"]:
                continue
            for other, goal in (("rclone", 2.5), ("curl", 0.7)):
                o = s["tools"].get(other)
                if o and o["wall"]:
                    x = o["wall"] / d["wall"]
                    rows.append((f"{scen}: {du} files/s ÷ {other}", f"{x:.2f}×", f"≥ {goal}×", x >= goal))
            c = d["cpu"] * 1000 / s["files"]
            rows.append((f"{scen}: {du} client CPU per file", f"{c:.3f} ms", "≤ 0.25 ms", c <= 0.25))
    for scen, s in ups.items():
        if s["target"] == "s3rver" and s["files"] >= 10:
            o = s["tools"].get("rclone")
            for du in ("du", "du-tuned"):
                d = s["tools"].get(du)
                if d and d["wall"] and o and o["wall"]:
                    x = d["wall"] / o["wall"]
                    rows.append((f"{scen}: {du} wall ÷ rclone", f"{x:.2f}×", "≤ 0.6×", x <= 0.6))
        if s["target"] == "sink" and s["files"] < 10:
            o = s["tools"].get("rclone")
            for du in ("du", "du-tuned"):
                d = s["tools"].get(du)
                if d and d["wall"] and o and o["wall"]:
                    x = o["wall"] / d["wall"]
                    rows.append((f"{scen}: {du} MiB/s ÷ rclone", f"{x:.2f}×", "≥ 3×", x >= 3))
            # issue 16: defaults (CRC32C) against one curl --parallel process and rclone, client CPU;
            # md5 mode against curl
            c = s["tools"].get("curl")
            for du, goal in (("du", 0.8), ("du-md5", 0.5)):
                d = s["tools"].get(du)
                if d and d["wall"] and c and c["wall"]:
                    x = c["wall"] / d["wall"]
                    rows.append((f"{scen}: {du} MiB/s ÷ curl", f"{x:.2f}×", f"≥ {goal}×", x >= goal))
            d = s["tools"].get("du")
            if d and d["wall"] and s.get("bytes"):
                cg = d["cpu"] / (s["bytes"] / (1 << 30))
                rows.append((f"{scen}: du client CPU per GiB", f"{cg:.2f} s", "≤ 1 s", cg <= 1))
    base = scan.get("_base")
    for v in ("native, auto threads", "find mode"):
        if base and v in scan:
            x = scan[v] / base
            # find mode runs find itself: it cannot beat find, and is shown for information.
            goal = "≤ 0.6×" if v != "find mode" else "– (runs find)"
            rows.append((f"scan: du_scan {v} ÷ find -printf", f"{x:.2f}×", goal, x <= 0.6 if v != "find mode" else None))
    sizes = sorted({n for n, _ in reg})
    if sizes:
        big, small = sizes[-1], sizes[0]
        copy = reg.get((big, "psql-copy"), (None, None))[0]
        for du in ("du", "du-tuned"):
            s, m = reg.get((big, du), (None, None))
            if s and copy:
                rows.append((f"register {big:,}: {du} ÷ psql \\copy", f"{s / copy:.2f}×", "≤ 1.5×", s / copy <= 1.5))
            m0 = reg.get((small, du), (None, None))[1]
            if m and m0 and big != small:
                rows.append((f"RSS {du}: {big:,} ÷ {small:,} files", f"{m / m0:.2f}× ({m0:.1f} → {m:.1f} MiB)",
                             "≤ 1.5×", m / m0 <= 1.5))
            if m:
                rows.append((f"RSS {du} at {big:,} files", f"{m:.1f} MiB", "≤ 64 MiB", m <= 64))
    return rows


def report(a):
    recs = load(a["raw"])
    lines = []
    machine = open(a["machine"]).read().strip() if a.get("machine") else os.uname().release
    ncpu = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines.append(f"### du benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
                 f"{' (smoke: tiny datasets, not a measurement)' if a.get('smoke') else ''}")
    lines.append("")
    lines.append(f"Machine: {ncpu} CPUs, {mem:.0f} GiB, `{machine}`. Load average before / after: "
                 f"{a.get('load', '?')}. Runs per client: {a.get('runs', '?')} (medians; slow clients fewer). "
                 f"Whole run: {a.get('elapsed', '?')} s.")
    ups = uploads(recs)
    upload_tables(ups, lines)
    scan = scan_section(recs, lines)
    reg = register_section(recs, lines)
    resync_section(recs, lines)
    retry_ratio = retry_section(recs, lines)
    rows = target_rows(ups, scan, reg)
    if retry_ratio is not None:
        rows.append(("du-retry ÷ du-upload, same files (sink)", f"{retry_ratio:.2f} ×", "≤ 1.2 ×", retry_ratio <= 1.2))
    if rows:
        lines.append("")
        lines.append("**targets** (issue 9):")
        lines.append("")
        lines.append("| target | measured | goal | met |")
        lines.append("|---|---|---|---|")
        for name, got, goal, ok in rows:
            lines.append(f"| {name} | {got} | {goal} | {'–' if ok is None else 'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n"


def splice(doc, table):
    text = open(doc).read()
    t = open(table).read()
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        sys.exit(f"report.py: {doc} has no {BEGIN} ... {END}")
    open(doc, "w").write(text[:i + len(BEGIN)] + "\n" + t + text[j:])


def main():
    argv = sys.argv[1:]
    if len(argv) == 3 and argv[0] == "--splice":
        return splice(argv[1], argv[2])
    a = {}
    while argv:
        k = argv.pop(0)
        if k == "--smoke":
            a["smoke"] = True
        elif k in ("--raw", "--machine", "--load", "--elapsed", "--runs"):
            a[k[2:]] = argv.pop(0)
        else:
            sys.exit(__doc__)
    if "raw" not in a:
        sys.exit(__doc__)
    sys.stdout.write(report(a))


if __name__ == "__main__":
    main()
