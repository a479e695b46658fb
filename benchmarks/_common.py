"""What the benchmark scripts share: the header (machine, thread counts, library versions, the other load on
the machine), medians, and running one measurement in a fresh process per framework and thread count.

Not a benchmark itself; the scripts next to it import it (`import _common`, which works because Python puts
a script's own folder first on sys.path).
"""
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

LIBRARIES = ("numpy", "numba", "torch", "jax")
BUSY = 0.2  # cores kept busy by other processes above which a run is flagged as not quiet


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions(names=LIBRARIES):
    """'numpy 2.4.6, numba 0.68.1, ...' from the installed metadata (nothing is imported)."""
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def blas():
    """'OpenBLAS 0.3.30 (SkylakeX kernels), ...': the BLAS libraries numpy and SciPy (whose BLAS minigrad's
    kernels call) load, and the kernel set each runs; OPENBLAS_CORETYPE, when set, chooses that set (some
    machines set it to work around old OpenBLAS builds, and it can pick a slower one than OpenBLAS would)."""
    import threadpoolctl
    importlib.import_module("numpy")
    importlib.import_module("scipy.linalg.cython_blas")
    found = sorted({f"{'OpenBLAS' if info['internal_api'] == 'openblas' else info['internal_api']} "
                    f"{info['version']} ({info.get('architecture') or 'unknown'} kernels)"
                    for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"})
    forced = [f"{name}={os.environ[name]}" for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ]
    return ", ".join(found) + (f"; set in the environment: {' '.join(forced)}" if forced else "")


def installed(name):
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _busy_ticks():
    """(busy, total) clock ticks of all cores since boot, from /proc/stat (None where there is none)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest time is inside user)
    return total - fields[3] - fields[4], total


def _own_seconds():
    """CPU seconds of this process and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Load:
    """The other load on the machine. Created before the run: the 1-minute load average, and the cores kept
    busy by other processes over one second in which this process sleeps. `report()` after the run: the
    cores other processes kept busy during it (all CPU time from /proc/stat less this process's and its
    waited-for children's), and the load average again (which includes this benchmark's own processes)."""

    def __init__(self, idle_seconds=1.0):
        self.cores = os.cpu_count() or 1
        self.loadavg_before = os.getloadavg()[0]
        start = _busy_ticks()
        time.sleep(idle_seconds)
        end = _busy_ticks()
        self.idle_busy = None if start is None else self.cores * (end[0] - start[0]) / max(end[1] - start[1], 1)
        self.start_ticks, self.start_own, self.start_wall = _busy_ticks(), _own_seconds(), time.monotonic()

    def before(self):
        idle = "" if self.idle_busy is None else \
            f"; other processes kept {self.idle_busy:.2f} of {self.cores} cores busy over 1 s before the start"
        return f"load before the run: 1-minute load average {self.loadavg_before:.2f}{idle}"

    def report(self):
        wall = time.monotonic() - self.start_wall
        own = _own_seconds() - self.start_own
        line = f"load during the run ({wall:.0f} s): "
        end = _busy_ticks()
        if self.start_ticks is not None and end is not None:
            busy = (end[0] - self.start_ticks[0]) / os.sysconf("SC_CLK_TCK")
            other = max(busy - own, 0.0) / max(wall, 1e-9)
            busy_note = "; NOT a quiet machine, do not quote these figures" if other > BUSY else ""
            line += f"other processes kept {other:.2f} of {self.cores} cores busy on average (this benchmark " \
                    f"{own / max(wall, 1e-9):.2f}{busy_note}); "
        return line + f"1-minute load average {self.loadavg_before:.2f} before, {os.getloadavg()[0]:.2f} after " \
                      "(this one counts the benchmark's own processes)"


def print_header(script, threads, note=""):
    """The machine, thread counts, library versions and the load before the run; returns the Load, whose
    report() the script prints at the end."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{script}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores ({affinity} usable by this process), "
          f"{platform.system()} {platform.machine()}, Python {platform.python_version()}")
    print(f"threads: {' '.join(map(str, threads))}" + (f" ({note})" if note else ""))
    print(f"versions: {versions()}")
    print(f"BLAS: {blas()}")
    load = Load()
    print(load.before(), flush=True)
    return load


def median_ms(fn, repeats, warmup=1):
    """Median wall time of fn() in ms over `repeats` calls, after `warmup` untimed calls (JIT, caches)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def median_rates(steps, batch, rounds, steps_per_round, sync=lambda: None):
    """For each step function: median images/sec over `rounds` timed rounds of `steps_per_round` calls, each
    round ending with sync() (a device synchronize, JAX's block_until_ready), after one untimed call and
    sync (compilation, caches)."""
    rates = []
    for step in steps:
        step()
        sync()
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(steps_per_round):
                step()
            sync()
            samples.append(batch * steps_per_round / (time.perf_counter() - start))
        rates.append(statistics.median(samples))
    return rates


def thread_env(threads, **extra):
    """The environment of a child that runs with `threads` threads: Numba's pool, OpenMP (PyTorch), MKL and
    OpenBLAS (numpy; minigrad caps its BLAS at MINIGRAD_BLAS_THREADS itself)."""
    n = str(threads)
    return dict(os.environ, NUMBA_NUM_THREADS=n, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n,
                **extra)


def pin_to_cores(threads):
    """Restrict this process to its first `threads` usable cores (a no-op when it may use no more than that).
    XLA's CPU client sizes its thread pool from the cores it may run on and reads no thread-count variable
    (XLA_FLAGS=--xla_cpu_multi_thread_eigen=false, intra_op_parallelism_threads, OMP_NUM_THREADS were tried),
    so this is how a JAX child runs on one thread. Call it before importing jax."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        if threads < len(cores):
            os.sched_setaffinity(0, cores[:threads])


def run_child(script, arguments, env, what):
    """Run `python script arguments...` and return the JSON its last stdout line holds; on failure print what
    failed (and its stderr's last lines) to stderr and return None, so that one broken framework does not
    stop the others."""
    command = [sys.executable, str(script), *map(str, arguments)]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode == 0 and lines:
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    tail = "\n    ".join(out.stderr.strip().splitlines()[-12:])
    print(f"{what} failed (exit status {out.returncode}):\n    {tail}", file=sys.stderr, flush=True)
    return None


def fresh_process_seconds(script_text, cache_dir):
    """Wall seconds a fresh Python process reports for `script_text` (which prints them), with its Numba
    cache in `cache_dir`. Returns once the processes it started have ended too: on a cold cache minigrad's
    warm-up process may still be compiling a kernel the step did not need, which would otherwise run into
    the next measurement. Python may write its bytecode caches (PYTHONDONTWRITEBYTECODE, which some machines
    set, is dropped), as on a user's machine, where a second run reads them: without them each run compiled
    minigrad's modules again, about 0.15 s of a warm first step."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.Popen([sys.executable, "-c", script_text], env=dict(env, NUMBA_CACHE_DIR=cache_dir),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stdout, stderr = process.communicate()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, process.args, stdout, stderr)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the process led a group of its own, which its children share
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    return float(stdout.strip().splitlines()[-1])

