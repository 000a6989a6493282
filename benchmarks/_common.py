"""What the benchmark scripts share: a fresh process per measurement, its time and memory.

A Spark measurement runs in a local JVM beside the worker: its memory and CPU
time are read from ``/proc`` (``jvm_peak_mb``, ``jvm_cpu_seconds``) and added to
the worker's.

A child process's ``ru_maxrss`` starts from its parent's peak, so the parent
that drives a benchmark never loads the data itself: it runs the script again
(``run_script``) to generate inputs, check results and measure, and reads the
child's last line of output.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The local Spark the benchmarks run segkit on: two cores, UTC, no UI, Arrow transfers.
SPARK_CONFIG = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "4g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def run_script(script: str, *arguments: str, python: str = sys.executable) -> str:
    """``python script *arguments`` in a fresh process; its last line of output.

    ``python`` is this interpreter unless another one is given (e.g. a separate venv
    holding a peer package that the project's environment must not have).
    """
    done = subprocess.run([python, script, *arguments], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{script} {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def peak_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time this process has used so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(compute: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median wall seconds and median CPU seconds of ``runs`` calls, and the last result."""
    seconds, cpu, result = [], [], None
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), cpu_seconds()
        result = compute()
        seconds.append(time.perf_counter() - started)
        cpu.append(cpu_seconds() - cpu_started)
    return statistics.median(seconds), statistics.median(cpu), result


def measure(compute: Callable[[], Any], runs: int) -> tuple[dict[str, float], Any]:
    """:func:`timed`, with the peak MB before and after; the timing row and the last result."""
    input_mb = peak_mb()
    seconds, cpu, result = timed(compute, runs)
    timing = {"seconds": seconds, "cpu_seconds": cpu, "input_mb": input_mb, "peak_mb": peak_mb()}
    return timing, result


def report(row: dict[str, Any]) -> None:
    """A worker's measurement, as the last line its parent reads."""
    print(json.dumps(row))


def spark_session():
    """A local Spark on two cores with :data:`SPARK_CONFIG`."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("segkit-bench")
    for key, value in SPARK_CONFIG.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def noop_write(result):
    """Compute every row of a Spark result and write it nowhere."""
    result.write.format("noop").mode("overwrite").save()
    return result


def jvm_pid(frame) -> int:
    """The process id of the JVM behind a Spark frame."""
    return frame.sparkSession._jvm.java.lang.ProcessHandle.current().pid()


def jvm_peak_mb(pid: int) -> float:
    """The peak resident set of process ``pid`` in MB (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def jvm_cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
