#!/usr/bin/python3
"""Run one benchmark command and append one JSON line of measurements to --out.

    measure.py --out FILE --tag k=v [--tag k=v ...] [--pg-pid PID] [--sink-pid PID]
               [--sink-log ACCESS-LOG] [--sigint-when SHELL-CMD] [--timeout S] [--mark-ok]
               -- CMD ARGS...

Measured: wall time (monotonic), the command's user and system CPU (wait4 rusage, children it
waited for included), its peak RSS (VmHWM, polled), its exit status; with --pg-pid, the CPU PostgreSQL spent meanwhile
(postmaster + live children + children it reaped, from /proc); with --sink-log (the null sink's
access log, "METHOD STATUS REQUEST-LENGTH" per line), the requests and bytes (headers + bodies) the
sink read in full meanwhile, to prove the bodies flowed; with --sink-pid, the nginx master's
workers' CPU; always, the bytes the loopback interface carried meanwhile (lo_bytes: every process's
traffic, so only a lower bound check that the bodies flowed).
With --sigint-when, SHELL-CMD is run every 0.1 s while the command runs, and the first time it
succeeds the command gets SIGINT (to end a run once the phase being measured is over).
With --timeout, a command still running after S seconds gets SIGINT, then SIGKILL 10 s later
("timeout": true in the record). --mark-ok adds "ok": exit status 0.
Exits with the command's status.
"""
import json
import os
import signal
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # the command name may hold spaces: fields start after the last ')'
    return s[s.rindex(")") + 2:].split()


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(stat_fields(d)[1]) == ppid:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def cpu_of(pid, reaped=False):
    f = stat_fields(pid)
    # utime stime cutime cstime are fields 14..17 (1-based), i.e. 11..14 after the name
    t = int(f[11]) + int(f[12])
    if reaped:
        t += int(f[13]) + int(f[14])
    return t / TICK


def pg_cpu(pm):
    total = cpu_of(pm, reaped=True)
    for c in children(pm):
        try:
            total += cpu_of(c)
        except OSError:
            pass
    return total


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def lo_rx_bytes():
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                return int(rest.split()[0])
    return 0


def sink_cpu(master):
    return sum(cpu_of(c) for c in children(master))


def sink_log(path, offset):
    reqs = nbytes = 0
    with open(path, "rb") as f:
        f.seek(offset)
        for line in f:
            p = line.split()
            if len(p) == 3:
                reqs += 1
                nbytes += int(p[2])
    return reqs, nbytes


def main():
    argv = sys.argv[1:]
    out, tags, pg, sink, when, log, limit, mark = None, {}, None, None, None, None, None, False
    while argv and argv[0] != "--":
        a = argv.pop(0)
        if a == "--out":
            out = argv.pop(0)
        elif a == "--tag":
            k, v = argv.pop(0).split("=", 1)
            tags[k] = v
        elif a == "--pg-pid":
            pg = int(argv.pop(0))
        elif a == "--sigint-when":
            when = argv.pop(0)
        elif a == "--timeout":
            limit = float(argv.pop(0))
        elif a == "--mark-ok":
            mark = True
        elif a == "--sink-log":
            log = argv.pop(0)
        elif a == "--sink-pid":
            sink = int(argv.pop(0))
        else:
            sys.exit(f"measure.py: unknown option {a}")
    cmd = argv[1:]
    if not out or not cmd:
        sys.exit(__doc__)
    pg_kids0 = set(children(pg)) if pg else set()
    pg0 = pg_cpu(pg) if pg else 0.0
    sink0 = sink_cpu(sink) if sink else 0
    log0 = os.path.getsize(log) if log else 0
    lo0 = lo_rx_bytes()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    state = {"timed_out": False}

    def on_alarm(signum, frame):
        # First the polite signal, then, 10 s later, the end.
        try:
            os.kill(pid, signal.SIGKILL if state["timed_out"] else signal.SIGINT)
        except ProcessLookupError:
            pass
        state["timed_out"] = True
        signal.setitimer(signal.ITIMER_REAL, 10)

    if limit:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
    # Peak RSS: the command's own VmHWM, read every 10 ms while it runs. wait4's ru_maxrss would
    # also count this Python process's pages, which the child had until its exec.
    hwm, next_when = 0, time.monotonic() + 0.1
    while True:
        done, status, ru = os.wait4(pid, os.WNOHANG)
        if done:
            break
        hwm = max(hwm, vm_hwm(pid))
        if when and time.monotonic() >= next_when:
            if subprocess.run(when, shell=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                os.kill(pid, signal.SIGINT)
                when = None
            next_when = time.monotonic() + 0.1
        time.sleep(0.01)
    signal.setitimer(signal.ITIMER_REAL, 0)
    timed_out = state["timed_out"]
    wall = time.monotonic() - t0
    rec = dict(tags)
    if pg:
        # Backends of the finished client exit now: wait until the postmaster has reaped them, so
        # their CPU is in its cutime.
        for _ in range(100):
            if set(children(pg)) <= pg_kids0:
                break
            time.sleep(0.02)
        rec["pg_cpu"] = round(pg_cpu(pg) - pg0, 3)
    if sink:
        rec["sink_cpu"] = round(sink_cpu(sink) - sink0, 3)
    if log:
        rec["sink_requests"], rec["sink_bytes"] = sink_log(log, log0)
    rec["lo_bytes"] = lo_rx_bytes() - lo0
    rc = os.waitstatus_to_exitcode(status)
    if timed_out:
        rec["timeout"] = True
    if mark:
        rec["ok"] = rc == 0
    rec.update(wall=round(wall, 4), user=round(ru.ru_utime, 4), sys=round(ru.ru_stime, 4),
               rss_kb=hwm or ru.ru_maxrss, rc=rc)
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
