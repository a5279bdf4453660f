#!/usr/bin/python3
"""Keep the Grafana dashboard and its alert rules honest.

Reads tools/grafana/du-dashboard.json and tools/grafana/provisioning/alerting/du-alerts.yaml,
expands the dashboard variables ($bucket_name, $s3_prefix: single, multi-value and All forms, as
Grafana's PostgreSQL data source quotes them) and Grafana's SQL macros the way Grafana does, runs
every panel query and every alert query with psql (PG* environment), and checks:

  * each query succeeds and returns exactly the columns this file expects for its panel
    (a panel without an entry here fails: new panels must be checked too);
  * its values agree with facts computed from the raw tables (file_uploads, sync_sessions,
    projects) for the same selection, and, for the whole database, with the ground truth the test
    passes (--files-uploaded, --files-failed, --bytes-uploaded: what it put on disk);
  * each alert rule's query reduces to a number, and its threshold fires exactly for the rules
    named with --expect-firing.

Exit 0 when everything holds; otherwise every failure is printed and the exit status is 1.
"""
import argparse
import csv
import datetime as dt
import io
import json
import math
import re
import subprocess
import sys

import yaml

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


# ---- psql -------------------------------------------------------------------------------------

def psql(sql):
    """Run one statement; return (columns, rows) with rows as lists of strings (None for NULL)."""
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-P", "null=\\N", "-c", sql],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or "psql failed")
    rd = list(csv.reader(io.StringIO(p.stdout)))
    if not rd:
        raise RuntimeError("no output (not a query?)")
    cols = rd[0]
    rows = [[None if v == "\\N" else v for v in r] for r in rd[1:]]
    return cols, rows


def quote(v):
    return "'" + v.replace("'", "''") + "'"


# ---- Grafana's macros and variables (PostgreSQL data source) ------------------------------------

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "ms": 0.001}


def seconds(interval):
    m = re.fullmatch(r"\s*'?(\d+)(ms|s|m|h|d|w)'?\s*", interval)
    if not m:
        raise ValueError("bad interval %r" % interval)
    return int(m.group(1)) * UNITS[m.group(2)]


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def macro_args(sql, start):
    """The text between the parenthesis at sql[start] and its match, and the index after it."""
    depth = 0
    for i in range(start, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return sql[start + 1:i], i + 1
    raise ValueError("unbalanced macro parenthesis")


def split_args(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    out.append(cur.strip())
    return out


def expand_macros(sql, t_from, t_to, interval_s):
    """Grafana's SQL macros as its PostgreSQL data source renders them."""
    def fn(name, args):
        a = split_args(args) if args.strip() else []
        if name == "__timeFilter":
            return "%s BETWEEN '%s' AND '%s'" % (a[0], ts(t_from), ts(t_to))
        if name == "__timeFrom":
            return "'%s'" % ts(t_from)
        if name == "__timeTo":
            return "'%s'" % ts(t_to)
        if name in ("__timeGroup", "__timeGroupAlias"):
            secs = seconds(a[1]) if a[1] != "$__interval" else interval_s
            expr = "floor(extract(epoch from %s)/%s)*%s" % (a[0], secs, secs)
            return expr + (' AS "time"' if name == "__timeGroupAlias" else "")
        if name == "__unixEpochFilter":
            return "%s >= %d AND %s <= %d" % (a[0], t_from.timestamp(), a[0], t_to.timestamp())
        raise ValueError("macro $%s is not known to this checker; teach it how Grafana expands it" % name)

    out, i = "", 0
    while True:
        m = re.compile(r"\$(__\w+)\(").search(sql, i)
        if not m:
            out += sql[i:]
            break
        out += sql[i:m.start()]
        args, i = macro_args(sql, m.end() - 1)
        out += fn(m.group(1), args)
    out = out.replace("$__interval_ms", str(int(interval_s * 1000)))
    out = out.replace("$__interval", "'%ds'" % interval_s)
    return out


def expand_vars(sql, values):
    """values: name -> list of strings (multi-value and All become 'a','b')."""
    def sub(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            raise ValueError("variable $%s is not defined by the dashboard" % name)
        v = values[name]
        # Grafana renders an empty multi-value selection as the empty string; keep SQL valid by
        # matching nothing, which is what the user sees (no rows).
        return ",".join(quote(x) for x in v) if v else "NULL"
    return re.sub(r"\$\{(\w+)\}|\$(?!__)(\w+)", sub, sql)


def render(sql, values, t_from, t_to, interval_s=60):
    out = expand_macros(expand_vars(sql, values), t_from, t_to, interval_s)
    left = re.findall(r"\$\w+", out)
    if left:
        raise ValueError("unexpanded %s" % ", ".join(sorted(set(left))))
    return out


def relative(spec, now):
    m = re.fullmatch(r"(?:now-)?(\d+)([smhdw])", spec)
    if not m:
        raise ValueError("bad time %r" % spec)
    return now - dt.timedelta(seconds=int(m.group(1)) * UNITS[m.group(2)])


# ---- facts from the raw tables --------------------------------------------------------------------

def facts(sel_sql):
    """Numbers for a selection, from file_uploads/sync_sessions/projects only (no views)."""
    base = ("FROM file_uploads f JOIN sync_sessions s ON s.id = f.session_id JOIN projects p ON p.id = s.project_id"
            " WHERE p.bucket_name IN (%s) AND s.s3_prefix IN (%s)" % sel_sql)
    _, r = psql("SELECT count(*) FILTER (WHERE f.status = 'uploaded'),"
                " coalesce(sum(f.file_size) FILTER (WHERE f.status = 'uploaded'), 0),"
                " count(*) FILTER (WHERE f.status = 'failed'), count(DISTINCT f.session_id) " + base)
    u, b, fl, _ = (int(x) for x in r[0])
    _, r = psql("SELECT f.file_type, count(*) %s AND f.status = 'uploaded' GROUP BY 1" % base)
    types = {k: int(v) for k, v in r}
    _, r = psql("SELECT coalesce(f.error_message, 'unknown'), count(*) %s AND f.status = 'failed' GROUP BY 1" % base)
    errors = {k: int(v) for k, v in r}
    sbase = ("FROM sync_sessions s JOIN projects p ON p.id = s.project_id"
             " WHERE p.bucket_name IN (%s) AND s.s3_prefix IN (%s)" % sel_sql)
    _, r = psql("SELECT count(*), count(*) FILTER (WHERE s.status = 'in_progress' AND NOT s.dry_run),"
                " coalesce(sum(s.files_skipped) FILTER (WHERE NOT s.dry_run), 0),"
                " count(DISTINCT p.bucket_name) " + sbase)
    sessions, active, skipped, buckets = (int(x) for x in r[0])
    _, r = psql("SELECT count(*) FROM trigger_attempts t JOIN sync_sessions s ON s.id = t.session_id"
                " JOIN projects p ON p.id = s.project_id"
                " WHERE p.bucket_name IN (%s) AND s.s3_prefix IN (%s)" % sel_sql)
    triggers = int(r[0][0])
    # Recordings per (device, day recorded) from the raw sensor column: the day is the date du wrote
    # (UTC when the file gave a zone, else as written), not the view's parsing of it.
    _, r = psql("SELECT f.sensor->>'device', substr(f.sensor->>'recorded_at', 1, 10), count(*) %s"
                " AND f.status = 'uploaded' AND f.sensor->>'device' IS NOT NULL"
                " AND f.sensor->>'recorded_at' IS NOT NULL GROUP BY 1, 2" % base)
    recordings = {(d, day): int(n) for d, day, n in r}
    return {"uploaded": u, "bytes": b, "failed": fl, "types": types, "errors": errors, "sessions": sessions,
            "active": active, "skipped": skipped, "buckets": buckets, "triggers": triggers,
            "recordings": recordings}


# ---- expectations per panel -------------------------------------------------------------------------

def num(v):
    return 0.0 if v is None else float(v)


def col(cols, rows, name):
    i = cols.index(name)
    return [r[i] for r in rows]


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))


def one_value(cols, rows):
    assert len(rows) == 1, "%d rows, want 1" % len(rows)
    return rows[0][0]


GIB = 1073741824.0


def chk_files_uploaded(c, r, f):
    v = num(one_value(c, r))
    assert v == f["uploaded"], "files_uploaded %s, uploaded rows %d" % (v, f["uploaded"])


def chk_gb(c, r, f):
    v = num(one_value(c, r))
    assert abs(v - f["bytes"] / GIB) <= 0.00051, "gb_uploaded %s, rows say %.6f" % (v, f["bytes"] / GIB)


def chk_success(c, r, f):
    v = one_value(c, r)
    done = f["uploaded"] + f["failed"] + f["skipped"]
    if done == 0:
        assert v is None, "success_percent %s with nothing done" % v
        return
    want = round(100.0 * (f["uploaded"] + f["skipped"]) / done, 2)
    assert close(num(v), want, 1e-4), "success_percent %s, rows say %s" % (v, want)
    assert 0 <= num(v) <= 100


def chk_active(c, r, f):
    assert num(one_value(c, r)) == f["active"], "active_sessions %s, want %d" % (one_value(c, r), f["active"])


def chk_open_failed(c, r, f):
    # Failures a later upload fixed drop out; in the test nothing is re-uploaded.
    assert num(one_value(c, r)) == f["failed"], "failed_files %s, failed rows %d" % (one_value(c, r), f["failed"])


def chk_hours_since(c, r, f):
    v = one_value(c, r)
    if f["uploaded"] == 0:
        assert v is None, "hours_since_last_upload %s without uploads" % v
        return
    assert 0 <= num(v) < 1, "hours_since_last_upload %s right after an upload" % v


def chk_per_project(c, r, f):
    assert len(r) == f["buckets"], "%d project rows, %d buckets" % (len(r), f["buckets"])
    assert sum(num(x) for x in col(c, r, "files_uploaded")) == f["uploaded"]
    assert sum(num(x) for x in col(c, r, "files_failed")) == f["failed"]
    gb = col(c, r, "gb_uploaded")
    assert abs(sum(num(x) for x in gb) - f["bytes"] / GIB) <= 0.00051 * len(gb) + 1e-9, "GB %s" % gb


def chk_types_pie(c, r, f):
    got = {k: int(num(v)) for k, v in r}
    assert got == f["types"], "pie %s, rows %s" % (got, f["types"])
    assert set(got) <= {"WAV", "JPG", "VIDEO", "UNKNOWN"}


def chk_errors(c, r, f):
    got = {k: int(num(v)) for k, v in r}
    assert got == f["errors"], "errors %s, rows %s" % (got, f["errors"])


def chk_sessions(c, r, f):
    assert len(r) == f["sessions"], "%d session rows, want %d" % (len(r), f["sessions"])
    assert sum(num(x) for x in col(c, r, "files_uploaded")) == f["uploaded"]
    for st, p in zip(col(c, r, "status"), col(c, r, "progress_percent")):
        assert 0 <= num(p) <= 100, "progress %s" % p
        if st in ("completed", "completed_with_errors"):
            assert num(p) == 100, "finished session at %s %%" % p


def chk_active_table(c, r, f):
    assert len(r) == f["active"], "%d active rows, want %d" % (len(r), f["active"])
    for d in col(c, r, "duration_s"):
        assert num(d) >= 0


def chk_live(c, r, f):
    if f["active"] == 0:
        assert len(r) == 0, "%d live rows without a running session" % len(r)
    for v in col(c, r, "files_per_s") + col(c, r, "mib_per_s"):
        assert num(v) >= 0


def chk_files_per_s(c, r, f):
    total = sum(num(v) * 3600 for v in col(c, r, "files_per_s"))
    assert round(total) == f["uploaded"], "files/s integrates to %s, want %d" % (total, f["uploaded"])
    times = [num(t) for t in col(c, r, "time")]
    assert times == sorted(times), "time not ascending"


def chk_gb_day(c, r, f):
    gb = col(c, r, "gb_uploaded")
    total = sum(num(v) for v in gb)
    assert abs(total - f["bytes"] / GIB) <= 0.00051 * len(gb) + 1e-9, "GB/day sums to %s, want %s" % (
        total, f["bytes"] / GIB)


def chk_type_prefix(c, r, f):
    assert sum(num(v) for v in col(c, r, "files_uploaded")) == f["uploaded"]
    assert sum(num(v) for v in col(c, r, "files_failed")) == f["failed"]


def chk_daily(c, r, f):
    assert sum(num(v) for v in col(c, r, "files_uploaded")) == f["uploaded"]
    assert sum(num(v) for v in col(c, r, "files_failed")) == f["failed"]
    if f["uploaded"]:
        assert all(num(v) > 0 for v in col(c, r, "sessions"))


def chk_top_failed(c, r, f):
    assert len(r) == min(f["failed"], 50), "%d failed rows, want %d" % (len(r), f["failed"])
    for e in col(c, r, "error_message"):
        assert e, "failed file without an error message"


def chk_webhook(c, r, f):
    assert len(r) == min(f["triggers"], 50), "%d attempts, want %d" % (len(r), f["triggers"])


def chk_recordings(c, r, f):
    days = sorted({t[:10] for t in col(c, r, "time")})
    got = {(m, t[:10]): int(num(n)) for t, m, n in zip(col(c, r, "time"), col(c, r, "metric"), col(c, r, "recordings"))}
    want = {k: n for k, n in f["recordings"].items() if days and days[0] <= k[1] <= days[-1]}
    assert {k: n for k, n in got.items() if n} == want, "per device and day %s, want %s" % (
        sorted(k for k, n in got.items() if n), sorted(want))
    # Every device has a row for every day of the range: a silent day shows as 0, not as nothing.
    devices = {m for m, _ in got}
    assert len(got) == len(r) == len(devices) * len(days), "%d rows for %d devices over %d days" % (
        len(r), len(devices), len(days))
    assert devices == {d for d, _ in want}, "devices %s, want %s" % (sorted(devices), sorted({d for d, _ in want}))


EXPECT = {
    "Files uploaded": (["files_uploaded"], chk_files_uploaded),
    "GB uploaded": (["gb_uploaded"], chk_gb),
    "Success rate": (["success_percent"], chk_success),
    "Active sessions": (["active_sessions"], chk_active),
    "Failed files (open)": (["failed_files"], chk_open_failed),
    "Hours since last upload": (["hours_since_last_upload"], chk_hours_since),
    "Files and GB per project": (["project_name", "bucket_name", "sessions", "files_uploaded", "files_failed",
                                  "files_skipped", "gb_uploaded"], chk_per_project),
    "Files by type": (["metric", "files"], chk_types_pie),
    "Failures by error": (["error_message", "files"], chk_errors),
    "Sessions: status and progress": (["session_id", "status", "bucket_name", "s3_prefix", "local_directory",
                                       "total_files", "files_uploaded", "files_failed", "files_skipped",
                                       "progress_percent", "success_percent", "mib_per_s", "duration_s",
                                       "started_at", "completed_at"], chk_sessions),
    "Active sessions with duration": (["session_id", "bucket_name", "s3_prefix", "hostname", "pid", "started_at",
                                       "duration_s", "progress_percent", "files_remaining", "recent_files_per_s",
                                       "recent_mib_per_s", "eta_s", "stalled"], chk_active_table),
    "Live throughput of running sessions": (["time", "files_per_s", "mib_per_s"], chk_live),
    "Files/s over 7 days": (["time", "files_per_s"], chk_files_per_s),
    "GB per day (30 days)": (["time", "gb_uploaded"], chk_gb_day),
    "Files by type and prefix": (["s3_prefix", "subdir", "file_type", "files_uploaded", "files_failed",
                                  "gb_uploaded"], chk_type_prefix),
    "Daily statistics": (["day", "sessions", "files_uploaded", "files_failed", "files_retried", "gb_uploaded",
                          "avg_file_mib"], chk_daily),
    "Top failed files": (["failed_at", "session_id", "s3_key", "local_path", "file_size", "retry_count",
                          "error_message", "error_permanent"], chk_top_failed),
    "Webhook deliveries": (["attempted_at", "session_id", "http_status", "succeeded", "duration_ms", "error"],
                           chk_webhook),
    "Recordings per device per day": (["time", "metric", "recordings"], chk_recordings),
}

ALERT_COLUMNS = {
    "du-success-rate": ["bucket_name", "success_percent"],
    "du-session-stuck": ["longest_running_hours"],
    "du-no-upload": ["hours_since_last_upload"],
}


# ---- the checks -----------------------------------------------------------------------------------

def panels_of(dash):
    for p in dash.get("panels", []):
        if p.get("type") == "row":
            yield from p.get("panels", [])
        else:
            yield p


def variable_values(dash, chosen):
    """Resolve each variable in order; chosen: name -> list, or 'all' for every value its query gives."""
    values = {}
    for v in dash["templating"]["list"]:
        q = v.get("query")
        q = q.get("rawSql", q.get("query")) if isinstance(q, dict) else q
        _, rows = psql(expand_vars(q, values))
        options = [r[0] for r in rows]
        want = chosen.get(v["name"], "all")
        if want == "all":
            if not v.get("includeAll"):
                raise ValueError("variable %s has no All option" % v["name"])
            values[v["name"]] = options if "allValue" not in v or not v["allValue"] else None
        else:
            values[v["name"]] = want
    return values


def check_panels(dash, label, values, f, now):
    default_from = relative(dash["time"]["from"], now)
    t_to = now + dt.timedelta(minutes=5)
    for p in panels_of(dash):
        title = p.get("title", "?")
        if title not in EXPECT:
            fail("panel '%s' has no expectation in check_dashboard.py" % title)
            continue
        want_cols, chk = EXPECT[title]
        targets = p.get("targets", [])
        if not targets:
            fail("panel '%s' has no query" % title)
        for t in targets:
            if t.get("datasource", p.get("datasource", {})).get("uid") != "du-postgres":
                fail("panel '%s' does not use the du-postgres data source" % title)
            t_from = relative(p["timeFrom"], now) if p.get("timeFrom") else default_from
            try:
                sql = render(t["rawSql"], values, t_from, t_to)
                cols, rows = psql(sql)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                fail("[%s] panel '%s': %s" % (label, title, e))
                continue
            if cols != want_cols:
                fail("[%s] panel '%s': columns %s, expected %s" % (label, title, cols, want_cols))
                continue
            if t.get("format") == "time_series" and "time" not in cols:
                fail("[%s] panel '%s': time series without a time column" % (label, title))
            try:
                chk(cols, rows, f)
            except AssertionError as e:
                fail("[%s] panel '%s': %s (rows: %s)" % (label, title, e, rows[:5]))
            except Exception as e:  # noqa: BLE001
                fail("[%s] panel '%s': check crashed: %r" % (label, title, e))


def evaluate(rule, now):
    """Run query A, reduce each numeric series to its last value (B), compare with C's threshold."""
    data = {d["refId"]: d for d in rule["data"]}
    a = data["A"]
    if a["datasourceUid"] != "du-postgres":
        raise ValueError("query A does not use du-postgres")
    rel = a.get("relativeTimeRange", {"from": 600, "to": 0})
    t_from = now - dt.timedelta(seconds=rel["from"])
    t_to = now - dt.timedelta(seconds=rel["to"])
    cols, rows = psql(render(a["model"]["rawSql"], {}, t_from, t_to))
    want = ALERT_COLUMNS.get(rule["uid"])
    if want is None:
        raise ValueError("no expected columns for this rule in check_dashboard.py")
    if cols != want:
        raise ValueError("columns %s, expected %s" % (cols, want))
    b, c = data["B"]["model"], data[rule["condition"]]["model"]
    if b["type"] != "reduce" or b["expression"] != "A" or c["type"] != "threshold" or c["expression"] != "B":
        raise ValueError("expected A -> reduce B -> threshold C")
    ev = c["conditions"][0]["evaluator"]
    limit = float(ev["params"][0])
    op = {"gt": lambda x: x > limit, "lt": lambda x: x < limit}[ev["type"]]
    values = []
    for r in rows:
        v = r[-1]
        if v is None:
            continue  # dropNN
        x = float(v)
        if math.isnan(x):
            raise ValueError("NaN value")
        values.append(x)
    return values, any(op(x) for x in values), rows


def check_alerts(alerts, expect_firing, now):
    seen = set()
    for g in alerts["groups"]:
        for rule in g["rules"]:
            uid = rule["uid"]
            seen.add(uid)
            try:
                values, firing, rows = evaluate(rule, now)
            except Exception as e:  # noqa: BLE001
                fail("alert '%s': %s" % (rule.get("title", uid), e))
                continue
            want = uid in expect_firing
            print("alert %-18s values %s -> %s" % (uid, values, "FIRING" if firing else "ok"))
            if firing != want:
                fail("alert '%s' %s but should %s (values %s)" % (rule["title"], "fires" if firing else "does not fire",
                                                                 "fire" if want else "not", values))
    for uid in ALERT_COLUMNS:
        if uid not in seen:
            fail("alert rule %s is missing" % uid)
    for uid in expect_firing:
        if uid not in seen:
            fail("--expect-firing %s: no such rule" % uid)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--alerts", required=True)
    ap.add_argument("--files-uploaded", type=int, help="ground truth for the whole database")
    ap.add_argument("--files-failed", type=int)
    ap.add_argument("--bytes-uploaded", type=int)
    ap.add_argument("--recordings", type=int, help="ground truth: recordings with a device and a time")
    ap.add_argument("--bucket", help="a bucket for the single-value selection")
    ap.add_argument("--prefix", help="a prefix of that bucket for the single-value selection")
    ap.add_argument("--expect-firing", action="append", default=[], metavar="UID")
    ap.add_argument("--alerts-only", action="store_true")
    a = ap.parse_args()

    dash = json.load(open(a.dashboard))
    alerts = yaml.safe_load(open(a.alerts))
    now = dt.datetime.now(dt.timezone.utc)
    names = [v["name"] for v in dash["templating"]["list"]]
    if names != ["bucket_name", "s3_prefix"]:
        fail("dashboard variables %s, expected bucket_name and s3_prefix" % names)

    if not a.alerts_only:
        # All: every bucket and prefix (Grafana expands All to the list of values, quoted).
        values = variable_values(dash, {})
        if not values["bucket_name"] or not values["s3_prefix"]:
            fail("variables have no values: %s" % values)
        sel = (",".join(quote(x) for x in values["bucket_name"]), ",".join(quote(x) for x in values["s3_prefix"]))
        f_all = facts(sel)
        print("facts (All): %s" % f_all)
        truth = {"uploaded": a.files_uploaded, "failed": a.files_failed, "bytes": a.bytes_uploaded}
        if a.recordings is not None and sum(f_all["recordings"].values()) != a.recordings:
            fail("database holds %d recordings with a device and a time, the test made %d"
                 % (sum(f_all["recordings"].values()), a.recordings))
        for k, v in truth.items():
            if v is not None and f_all[k] != v:
                fail("database says %s %s, the test put %s on disk" % (k, f_all[k], v))
        check_panels(dash, "All", values, f_all, now)

        if a.bucket and a.prefix:
            values = variable_values(dash, {"bucket_name": [a.bucket], "s3_prefix": [a.prefix]})
            f_one = facts((quote(a.bucket), quote(a.prefix)))
            print("facts (%s/%s): %s" % (a.bucket, a.prefix, f_one))
            if f_one == f_all:
                fail("the single selection %s/%s holds everything: it cannot show that the variables filter"
                     % (a.bucket, a.prefix))
            check_panels(dash, "single", values, f_one, now)
            # Multi-value: the chosen prefix plus one that does not exist.
            values["s3_prefix"] = [a.prefix, "no-such-prefix"]
            check_panels(dash, "multi", values, f_one, now)

        # A selection matching nothing: every query still runs and shows nothing.
        values = {"bucket_name": ["no-such-bucket"], "s3_prefix": ["no-such-prefix"]}
        f_none = facts((quote("no-such-bucket"), quote("no-such-prefix")))
        check_panels(dash, "none", values, f_none, now)

    check_alerts(alerts, set(a.expect_firing), now)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("dashboard and alerts: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
