"""Run a training command at one thread until it has spent a budget of CPU time.

The equal-budget protocol counts process CPU seconds at one torch thread, not
wall time, so that a busy machine gives the same result as an idle one
(``mlpot-train`` does this itself with ``train.budget_clock: cpu``). Peers'
training commands have no such option; this wrapper polls the CPU time of the
command and its child processes (``/proc``, Linux) and sends SIGINT once the
budget is spent, then SIGTERM if the command has not exited after a grace
period. Only the standard library is used, so it runs under any interpreter.

Example
-------
::

    python benchmarks/peers/cpu_budget.py --cpu-hours 1 \\
        --record runs/peers/ethanol/nequip-budget.json -- \\
        .venv-nequip/bin/nequip-train benchmarks/peers/nequip-ethanol.yaml
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}
POLL_S = 2.0
GRACE_S = 120.0


def process_tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry)
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        fields = _stat_fields(Path("/proc") / str(current))
        if fields is not None:
            # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted from 1
            total += sum(int(value) for value in fields[11:15]) / ticks
        todo.extend(children.get(current, []))
    return total


def _stat_fields(proc: Path):
    """Fields of ``/proc/PID/stat`` after the command name, or None if it has gone."""
    try:
        text = (proc / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def run_with_budget(
    command, cpu_s: float, poll_s: float = POLL_S, grace_s: float = GRACE_S
):
    """Run ``command`` at one thread; interrupt it when its CPU time reaches ``cpu_s``.

    The command gets SIGINT's default action back (a shell's background job
    inherits SIGINT ignored), so that a Python program stops at the interrupt.

    Returns
    -------
    dict
        ``command``, ``budget_cpu_s``, ``cpu_s`` (CPU seconds when the budget
        was found spent, or at exit), ``cpu_s_at_exit`` (CPU seconds of the
        command and the children it waited for, from ``getrusage``: includes
        what it did between the interrupt and its exit), ``wall_s``,
        ``returncode`` and ``stopped_because`` (``"budget"`` or ``"exited"``).
    """
    start = time.monotonic()
    before = _children_cpu_s()
    process = subprocess.Popen(
        command,
        env=dict(os.environ, **ONE_THREAD),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    stopped_because, spent = "exited", 0.0
    while process.poll() is None:
        spent = max(spent, process_tree_cpu_s(process.pid))
        if spent >= cpu_s:
            stopped_because = "budget"
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait()
            break
        time.sleep(poll_s)
    at_exit = _children_cpu_s() - before
    return {
        "command": [str(part) for part in command],
        "budget_cpu_s": cpu_s,
        "cpu_s": round(spent if stopped_because == "budget" else at_exit, 1),
        "cpu_s_at_exit": round(at_exit, 1),
        "wall_s": round(time.monotonic() - start, 1),
        "returncode": process.returncode,
        "stopped_because": stopped_because,
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-hours", type=float, required=True)
    parser.add_argument(
        "--record", required=True, help="JSON file for the spent budget"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the training command after --")
    record = Path(args.record)
    if record.exists():
        parser.error(
            f"{record} exists: this budget has been spent; remove it to run again"
        )
    result = run_with_budget(command, args.cpu_hours * 3600)
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_name(record.name + ".partial")
    partial.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(partial, record)
    print(json.dumps(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
