"""Plugin code runs in a child process: a hard time limit, crash containment and
bounded output capture, for ``solve`` and for every ``compare`` run (local or Dask).

Two ways of getting a child, one supervisor for both (:class:`Supervised`):

* ``solve`` **forks** the already-initialised CLI process right before the solve
  (:func:`run_forked`). A fresh interpreter would cost the torch import (~1.5 s)
  and every plugin import again; a fork costs a few milliseconds
  (``benchmarks/bench_isolation.py`` measures it) and the child inherits
  everything already in memory: the loaded problem, the registry, a test's
  monkeypatches. A forkserver preloaded with torch would also be fast, but it
  cannot inherit the parent's state (the Problem would have to be pickled, a
  solver class registered at run time would be unknown there) and it is one more
  long-lived process to manage. The price of fork is torch's OpenMP thread pool:
  libgomp does not survive a fork (a child that runs a parallel region hangs if
  the parent already ran one). The CLI never runs a torch op before it forks, so
  the child gets torch's normal threads; when the parent had imported torch before
  the fork (a library caller of ``solve(isolate=True)``, or a problem kind that
  builds a torch model while loading), the child runs with one intra-op thread,
  as PyTorch's own DataLoader workers do. A parent that has initialised CUDA
  cannot fork a CUDA child: ``solve(isolate=True)`` refuses that with an error.

* ``compare`` runs go to **persistent worker processes**, started once per compare
  and running one task after the other. Locally on CPU they are forks of the compare
  process (:class:`ForkedWorker`), made after it has imported torch and the plugins and
  loaded every problem: a worker starts in milliseconds and reads its problems from
  memory; it gets ``cores // jobs`` torch threads, or one when this process may have
  started an OpenMP pool (:func:`fork_threads`). For CUDA, on a Dask worker (a daemonic
  process that may not have multiprocessing children) and without ``fork``, a worker is
  a fresh interpreter started with ``subprocess`` (:class:`IsolatedWorker`) that imports
  torch, the core and the plugins once. Either way its stdout and stderr are one pipe
  read by the supervising process, so a run's output is captured per run even when the
  worker is killed mid-run, and a plugin's class-level warm-up (``Solver.prepare``) is
  paid once per worker. The local pool (``bench/pool.py``) multiplexes several; on a
  Dask cluster each Dask worker keeps its own (``bench/dask_runner.py``), so the hard
  limit is the same on a cluster as on this machine.

The child tells the supervisor when the timed region begins (``on_begin``, with the
effective ``time_limit_s``); the run is killed ``hard_limit_s(limit)`` after that
(the run loop's own soft limit gets the first chance), and a child that has not
begun within ``SETUP_LIMIT_S`` plus that is killed too. A killed run is a
``time_limit`` Result, a child that dies is ``failed`` with its exit code or signal.

Output: stdout and stderr of the plugin are read through pipes, never into an
unbounded file. The Result keeps the first ``HEAD_BYTES`` and the last
``TAIL_BYTES`` (``Result.captured_output``, with a marker saying how much was left
out between them). ``solve`` also passes the first ``PASSTHROUGH_BYTES`` through to
its own stdout/stderr as they arrive (solve is interactive) and then says once that
the rest is not shown; ``compare`` shows none of it.
"""
from __future__ import annotations

__all__ = ["OutputCapture", "Supervised", "IsolatedWorker", "ForkedWorker", "fork_threads", "can_fork_workers",
           "note_torch_import",
           "run_forked", "solve_isolated", "describe_exit",
           "hard_limit_s", "HEAD_BYTES", "TAIL_BYTES", "PASSTHROUGH_BYTES", "SETUP_LIMIT_S"]

import atexit
import codecs
import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as _wait
from typing import Any, Callable

HEAD_BYTES = 16 * 1024          # kept from the start of a run's output
TAIL_BYTES = 16 * 1024          # kept from its end
PASSTHROUGH_BYTES = 64 * 1024   # shown live by solve before it goes quiet
HARD_LIMIT_GRACE_S = 2.0
SETUP_LIMIT_S = 60.0            # loading, lowering, prepare(): before the timed region begins
_READ_CHUNK = 1 << 16
_READ_PER_WAKEUP = 16           # chunks read from one pipe before the others get a turn
_POLL_S = 0.25                  # without pidfd: how often a silent child is checked for death
_DRAIN_LIMIT_BYTES = 64 << 20   # after death: at most this much more is read (a grandchild may keep writing)


def hard_limit_s(limit: float) -> float:
    """Seconds after the timed region begins at which a run is killed (its own soft limit comes first)."""
    return limit + max(HARD_LIMIT_GRACE_S, 0.5 * limit)


def describe_exit(code: int | None) -> str:
    """``exit code 3`` / ``killed by signal SIGSEGV (Segmentation fault)``; ``code`` as ``Popen.returncode``."""
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        text = signal.strsignal(-code) or ""
        return f"killed by signal {name}" + (f" ({text})" if text and text != name else "")
    return f"exit code {code}"


# -- output --------------------------------------------------------------------------
class OutputCapture:
    """The first ``head`` and last ``tail`` bytes of a stream of chunks, and their total.

    With ``passthrough`` > 0, the first ``passthrough`` bytes are also written, as they
    come, to ``sys.stdout`` / ``sys.stderr`` (by the chunk's stream), then one notice."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES, passthrough: int = 0):
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.passthrough_left = passthrough
        self.passthrough = passthrough
        self._decoders: dict[str, Any] = {}
        self._noticed = False

    def feed(self, data: bytes, stream: str = "stdout") -> None:
        self.total += len(data)
        if self.passthrough_left > 0 or (self.passthrough and not self._noticed):
            self._pass(data, stream)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        if len(data) >= self.tail_limit:
            self.tail = bytearray(data[len(data) - self.tail_limit:])
        else:
            self.tail += data
            if len(self.tail) > self.tail_limit:
                del self.tail[:len(self.tail) - self.tail_limit]

    def _pass(self, data: bytes, stream: str) -> None:
        shown = data[:self.passthrough_left]
        self.passthrough_left -= len(shown)
        target = sys.stderr if stream == "stderr" else sys.stdout
        try:
            if shown:
                dec = self._decoders.setdefault(stream, codecs.getincrementaldecoder("utf-8")("replace"))
                target.write(dec.decode(shown))
                target.flush()
            if len(shown) < len(data) and not self._noticed:
                self._noticed = True
                sys.stderr.write(f"\n[solverhub: the solver's output passed {self.passthrough // 1024} KB; the rest "
                                 f"is not shown. Its first {self.head_limit // 1024} KB and last "
                                 f"{self.tail_limit // 1024} KB are kept in the Result (captured_output)]\n")
                sys.stderr.flush()
        except (OSError, ValueError):     # our own stdout closed (a pipe into `head`): keep capturing
            self.passthrough_left = 0
            self._noticed = True

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        if self.omitted <= 0:
            return bytes(self.head + self.tail).decode("utf-8", "replace")
        return (bytes(self.head).decode("utf-8", "replace")
                + f"\n[... solverhub: {self.omitted} bytes of output left out; {self.total} in all ...]\n"
                + bytes(self.tail).decode("utf-8", "replace"))


# -- processes -------------------------------------------------------------------------
class _Forked:
    """``Popen``'s poll/wait/kill for a child made with ``os.fork``."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.pidfd = _pidfd(pid)

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:       # reaped elsewhere (a SIGCHLD handler): status unknown
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            if self.pidfd is not None:      # woken the moment it exits
                select.select([self.pidfd], [], [], left)
            else:
                time.sleep(delay if left is None else min(delay, left))
                delay = min(delay * 2, 0.05)
        return self.returncode

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _wait_exit(process, timeout: float) -> int | None:
    """``process.wait(timeout)`` for Popen and _Forked alike: the exit code, or None if still running."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux >= 5.3), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _dumps(message: dict) -> bytes:
    if message.get("t") == "done":            # the payload as it is, not quoted again: JSON text, or
        payload = message["payload"]          # a compare run's codec blob (bytes)
        return b"\1" + payload if isinstance(payload, bytes) else b"\0" + payload.encode()
    return json.dumps(message, default=repr).encode()


def _loads(raw: bytes) -> dict:
    if raw[:1] == b"\0":
        return {"t": "done", "payload": raw[1:].decode()}
    if raw[:1] == b"\1":
        return {"t": "done", "payload": raw[1:]}
    return json.loads(raw)


class Supervised:
    """One child under supervision: its control connection (JSON messages ``begin``,
    ``done``, ``error``...), its output pipes, the process, the deadlines.

    Drive it with :meth:`waitables` / :meth:`deadline` / :meth:`step`, or :func:`supervise`."""

    def __init__(self, process, conn: Connection, outputs: dict[int, str], capture: OutputCapture):
        self.process, self.conn, self.capture = process, conn, capture
        self.outputs = dict(outputs)            # fd -> "stdout" | "stderr"
        for fd in self.outputs:
            os.set_blocking(fd, False)
        self._own_pidfd = getattr(process, "pidfd", None) is None
        self.pidfd = _pidfd(process.pid) if self._own_pidfd else process.pidfd
        self.begin_info: dict | None = None
        self.begun_at: float | None = None
        self.dispatched_at: float | None = None
        self.setup_limit_hint: float | None = None
        self.message: dict | None = None        # the final message: done / error / user_error
        self.exit_code: int | None = None
        self.elapsed_s = 0.0

    def arm(self, limit_hint: float | None, capture: OutputCapture | None = None) -> None:
        """A new job was handed to the child: restart the clocks (and the capture)."""
        if capture is not None:
            self.drain(_DRAIN_LIMIT_BYTES)      # leftovers belong to no run
            self.capture = capture
        self.begin_info = self.begun_at = self.message = None
        self.dispatched_at = time.monotonic()
        self.setup_limit_hint = limit_hint

    @property
    def limit_s(self) -> float | None:
        if self.begin_info is not None:
            return self.begin_info.get("time_limit_s")
        return self.setup_limit_hint

    def deadline(self) -> float | None:
        if self.begun_at is not None:
            limit = self.limit_s
            return None if limit is None else self.begun_at + hard_limit_s(limit)
        if self.dispatched_at is None or self.setup_limit_hint is None:
            return None
        return self.dispatched_at + SETUP_LIMIT_S + hard_limit_s(self.setup_limit_hint)

    def waitables(self) -> list:
        return [self.conn, *self.outputs] + ([self.pidfd] if self.pidfd is not None else [])

    def _read(self, fd: int, chunks: int) -> int:
        got = 0
        for _ in range(chunks):
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                return got
            except OSError:
                data = b""
            if not data:
                os.close(fd)
                del self.outputs[fd]
                return got
            got += len(data)
            self.capture.feed(data, self.outputs[fd])
        return got

    def drain(self, limit: int) -> None:
        """Read what the pipes hold now (bounded: a grandchild may keep writing)."""
        read = 0
        for fd in list(self.outputs):
            while fd in self.outputs and read < limit:
                got = self._read(fd, 1)
                if not got:
                    break
                read += got

    def step(self, ready) -> str | None:
        """Handle what ``wait`` said is ready; return ``"done"`` or ``"died"`` when the job ends."""
        for fd in list(self.outputs):
            if fd in ready:
                self._read(fd, _READ_PER_WAKEUP)
        exited = (self.pidfd in ready) if self.pidfd is not None else (self.process.poll() is not None)
        if self.conn in ready or exited:        # a child that exits has written its last message first
            while True:
                try:
                    if not self.conn.poll(0):
                        break
                    raw = self.conn.recv_bytes()
                except (EOFError, OSError):
                    return self.died()
                msg = _loads(raw)
                if msg.get("t") == "begin":
                    self.begin_info, self.begun_at = msg.get("info") or {}, time.monotonic()
                elif msg.get("t") in ("done", "error", "user_error"):
                    self.message = msg
                    self.elapsed_s = time.monotonic() - (self.begun_at or self.dispatched_at or time.monotonic())
                    self.drain(_DRAIN_LIMIT_BYTES)
                    return "done"
        return self.died() if exited else None

    def died(self) -> str:
        self.drain(_DRAIN_LIMIT_BYTES)
        code = _wait_exit(self.process, 5)
        if code is None:                        # control pipe closed but alive: finish it
            self.kill()
            code = _wait_exit(self.process, 5)
        self.exit_code = code
        self.elapsed_s = time.monotonic() - (self.begun_at or self.dispatched_at or time.monotonic())
        return "died"

    def expire(self) -> str:
        """The deadline passed: kill the child."""
        self.elapsed_s = time.monotonic() - (self.begun_at or self.dispatched_at or time.monotonic())
        self.kill()
        self.exit_code = _wait_exit(self.process, 5)
        self.drain(_DRAIN_LIMIT_BYTES)
        return "time_limit"

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:
            pass

    def close(self) -> None:
        for fd in list(self.outputs):
            os.close(fd)
        self.outputs.clear()
        if self.pidfd is not None:
            if self._own_pidfd:
                os.close(self.pidfd)
            else:
                self.process.close()
            self.pidfd = None
        try:
            self.conn.close()
        except OSError:
            pass


def supervise(sup: Supervised) -> str:
    """Run ``sup`` until its job ends: ``"done"``, ``"died"`` or ``"time_limit"``."""
    while True:
        deadline = sup.deadline()
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return sup.expire()
        timeout = None if deadline is None else deadline - now
        if sup.pidfd is None:
            timeout = _POLL_S if timeout is None else min(timeout, _POLL_S)
        ready = _wait(sup.waitables(), timeout)
        state = sup.step(ready)
        if state is not None:
            return state


# -- the forked child (solve) -----------------------------------------------------------
_PRCTL: list = []       # [prctl or None], looked up once in the parent, used by every child


def _prctl():
    if not _PRCTL:
        try:
            import ctypes
            _PRCTL.append(ctypes.CDLL(None, use_errno=True).prctl)
        except Exception:  # noqa: BLE001 - not Linux
            _PRCTL.append(None)
    return _PRCTL[0]


def _set_pdeathsig(parent: int) -> None:
    """Die with the parent (Linux ``PR_SET_PDEATHSIG``), so a killed CLI leaves no hung solver behind."""
    prctl = _prctl()
    if prctl is not None:
        try:
            prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - the parent's kill on exit is then the only guard
            pass
    if os.getppid() != parent:
        os._exit(70)


def _error_message(err: BaseException) -> dict:
    from .errors import SolverhubError
    if isinstance(err, SolverhubError):
        cls = type(err)
        return {"t": "user_error", "module": cls.__module__, "cls": cls.__qualname__, "message": err.message,
                "file": err.location.file, "line": err.location.line, "allowed": err.allowed}
    return {"t": "error", "type": type(err).__name__,
            "message": "".join(traceback.format_exception_only(type(err), err)).strip(),
            "traceback": traceback.format_exc(limit=8)}


def _child(target, ctl_w: int, out_w: int, err_w: int, parent: int) -> None:
    code = 0
    try:
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        _set_pdeathsig(parent)
        try:        # Ctrl-C goes to the whole foreground group: the parent decides (it kills us)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:
            pass
        enc = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout = sys.__stdout__ = open(1, "w", buffering=1, encoding=enc, errors="backslashreplace", closefd=False)
        sys.stderr = sys.__stderr__ = open(2, "w", buffering=1, encoding=enc, errors="backslashreplace", closefd=False)
        if "faulthandler" in sys.modules and sys.modules["faulthandler"].is_enabled():
            sys.modules["faulthandler"].enable(file=sys.stderr)   # into the capture, not a saved copy of fd 2
        conn = Connection(ctl_w, readable=False)

        def begin(info: dict) -> None:
            conn.send_bytes(_dumps({"t": "begin", "info": info}))

        try:
            msg = {"t": "done", "payload": target(begin)}
        except BaseException as err:  # noqa: BLE001 - everything goes back to the parent
            msg = _error_message(err)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        conn.send_bytes(_dumps(msg))
    except BaseException:  # noqa: BLE001 - never return into the parent's code
        code = 70
    finally:
        os._exit(code)


_EXITING: list[_Forked] = []      # children that answered and were exiting when we returned


def _reap_exiting(final: bool = False) -> None:
    """Reap answered children (at the next fork, and at exit: a child still there after 2 s is killed)."""
    for proc in list(_EXITING):
        if proc.poll() is None and final:
            if proc.wait(timeout=2) is None:
                proc.kill()
                proc.wait(timeout=5)
        if proc.returncode is not None:
            _EXITING.remove(proc)


atexit.register(_reap_exiting, True)


@dataclass
class ForkOutcome:
    state: str                      # done | died | time_limit
    message: dict | None            # the child's final message (state "done")
    begin_info: dict | None
    exit_code: int | None
    elapsed_s: float
    output: str
    output_bytes: int


def _before_fork() -> None:
    """Before any ``os.fork``: flush buffered output (a child would print it again), reap
    exited children, and load ``prctl`` so the child can set its parent-death signal."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    _reap_exiting()
    _prctl()


def run_forked(target: Callable[[Callable[[dict], None]], str], *, limit_hint: float | None = None,
               passthrough: int = PASSTHROUGH_BYTES) -> ForkOutcome:
    """Fork; the child runs ``target(begin)`` (``begin(info)`` marks the start of the timed
    region, ``info["time_limit_s"]`` arms the hard limit) and returns a string. The parent
    supervises: output captured (and the first ``passthrough`` bytes shown), hard limit,
    death. Ctrl-C in the parent kills the child and propagates."""
    _before_fork()
    ctl_r, ctl_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; coverage does not follow it
        os.close(ctl_r)
        os.close(out_r)
        os.close(err_r)
        _child(target, ctl_w, out_w, err_w, parent)
    for fd in (ctl_w, out_w, err_w):
        os.close(fd)
    sup = Supervised(_Forked(pid), Connection(ctl_r, writable=False), {out_r: "stdout", err_r: "stderr"},
                     OutputCapture(passthrough=passthrough))
    sup.arm(limit_hint)
    try:
        state = supervise(sup)
        if state == "done" and sup.process.poll() is None:
            _EXITING.append(sup.process)    # it sent its answer and is exiting: reaped later, not waited for
    except BaseException:
        sup.kill()
        _wait_exit(sup.process, 5)
        raise
    finally:
        sup.close()
    return ForkOutcome(state, sup.message, sup.begin_info, sup.exit_code, sup.elapsed_s, sup.capture.text(),
                       sup.capture.total)


def raise_user_error(msg: dict):
    """Re-raise in this process a SolverhubError the child raised (the CLI prints it, exit 2)."""
    import importlib

    from .errors import Location, SolverhubError
    cls = SolverhubError
    try:
        found = importlib.import_module(msg["module"])
        for part in msg["cls"].split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, SolverhubError):
            cls = found
    except Exception:  # noqa: BLE001
        pass
    args = (msg.get("message") or "",)
    kwargs = {"location": Location(msg.get("file"), msg.get("line")), "allowed": msg.get("allowed")}
    try:
        err = cls(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a subclass with another signature
        err = SolverhubError(*args, **kwargs)
    raise err


def solve_isolated(problem, solver, *, options, device: str, dtype: str, seed, baseline: bool,
                   passthrough: int = PASSTHROUGH_BYTES):
    """``api.solve`` in a forked child (see the module docstring); always returns a Result
    for what the solver does, raises SolverhubError for what the user did."""
    from . import api
    from .errors import OptionError
    from .result import Result, Stationarity, Status
    torch_loaded = "torch" in sys.modules
    if torch_loaded and device != "cpu":
        torch = sys.modules["torch"]
        if torch.cuda.is_initialized():
            raise OptionError("solve(isolate=True) cannot use CUDA in this process: CUDA is already initialised "
                              "here and a forked child cannot use it",
                              allowed="isolate=False, device='cpu', or isolate from a fresh process")

    def target(begin):
        return api._solve_here(problem, solver, options=options, device=device, dtype=dtype, seed=seed,
                               baseline=baseline, on_begin=begin, max_threads=1 if torch_loaded else None).to_json()

    outcome = run_forked(target, limit_hint=_limit_hint(problem, options), passthrough=passthrough)
    msg = outcome.message or {}
    if outcome.state == "done" and msg.get("t") == "user_error":
        raise_user_error(msg)
    if outcome.state == "done" and msg.get("t") == "done":
        return Result.from_json(msg["payload"]).replace(captured_output=outcome.output)
    info = outcome.begin_info or {}
    extras: dict[str, Any] = {"isolation": {"state": outcome.state, "exit": describe_exit(outcome.exit_code),
                                            "output_bytes": outcome.output_bytes}}
    if outcome.state == "time_limit":
        status = Status.TIME_LIMIT
        limit = info.get("time_limit_s", _limit_hint(problem, options))
        message = (f"killed after {outcome.elapsed_s:.1f} s: the solver did not stop at "
                   f"time_limit_s={limit:g}" if isinstance(limit, (int, float)) else
                   f"killed after {outcome.elapsed_s:.1f} s")
    elif outcome.state == "died":
        status = Status.FAILED
        message = f"the solver process died: {describe_exit(outcome.exit_code)}"
    else:
        status = Status.FAILED
        message = msg.get("message") or "the solver process failed"
        if msg.get("traceback"):
            extras["traceback"] = msg["traceback"]
    name = info.get("solver") or (solver if isinstance(solver, str) else getattr(solver, "name", None)) or "auto"
    return Result(
        solver=name, solver_version=info.get("solver_version", "0"), problem=problem.name,
        problem_hash=problem.content_hash, problem_dim=problem.dim, status=status, message=message,
        objective=math.nan, stationarity=Stationarity(info.get("stationarity", "none"), math.nan), iterations=0,
        oracle_calls={}, wall_time_s=outcome.elapsed_s, device=info.get("device", device), dtype=dtype,
        seed=int(info.get("seed", problem.oracle_config.seed if seed is None else seed)),
        options=info.get("options") or {str(k): v for k, v in dict(options or {}).items()},
        extras=extras, captured_output=outcome.output)


def _limit_hint(problem, options) -> float | None:
    """The time limit the user asked for, read before the solver resolves it (setup deadline only)."""
    merged = {**dict(problem.solve_defaults), **dict(options or {})}
    for key, value in merged.items():
        if key.replace("-", "_") == "time_limit_s":
            try:
                value = float(value)
            except (TypeError, ValueError):
                return None
            return value if value > 0 and math.isfinite(value) else None
    return None


# -- persistent workers (compare, local and Dask) --------------------------------------------
def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(70)


def _serve(inbox: Connection, outbox: Connection, problems: dict | None, max_threads: int | None) -> None:
    """A worker's loop: receive a task, run it (``bench.tasks.execute``), send its answer."""
    from .bench.tasks import execute

    def begin(info: dict) -> None:
        outbox.send_bytes(_dumps({"t": "begin", "info": info}))

    while True:
        try:
            task = inbox.recv()
        except (EOFError, OSError):
            os._exit(0)
        if task is None:
            os._exit(0)         # nothing to clean up: skip the interpreter's (torch's) teardown
        payload = execute(task, on_begin=begin, problems=problems, max_threads=max_threads)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        try:
            outbox.send_bytes(_dumps({"t": "done", "payload": payload}))
        except (BrokenPipeError, OSError):
            os._exit(0)


def _worker_main() -> None:  # pragma: no cover - runs in the worker process
    """Entry point of a spawned :class:`IsolatedWorker`: ``argv[1:3]`` are the control fds."""
    inbox = Connection(int(sys.argv[1]), writable=False)
    outbox = Connection(int(sys.argv[2]), readable=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C: the supervising process decides
    import faulthandler
    faulthandler.enable()       # a segfaulting run leaves its Python stack in its captured output
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        sys.path[:] = inbox.recv()
    except (EOFError, OSError):
        return
    try:
        import torch  # noqa: F401 - pay the imports once, before any run is timed
        from . import api  # noqa: F401
        from .registry import get_registry
        get_registry().load_all()    # import every registered solver and kind now
    except BaseException:  # noqa: BLE001 - the runs will report it
        pass
    _serve(inbox, outbox, None, None)


def _forked_main(inbox_r: int, ctl_w: int, out_w: int, parent: int, problems: dict | None,
                 max_threads: int | None, close_fds) -> None:  # pragma: no cover - the forked worker
    code = 0
    try:
        for fd in close_fds:            # the other workers' pipes: their EOFs must not wait for us
            try:
                os.close(fd)
            except OSError:
                pass
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        _set_pdeathsig(parent)
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:                        # Ctrl-C: the supervising process decides (it kills us)
                signal.signal(sig, signal.SIG_IGN if sig == signal.SIGINT else signal.SIG_DFL)
            except (ValueError, OSError):
                pass
        enc = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout = sys.__stdout__ = open(1, "w", buffering=1, encoding=enc, errors="backslashreplace", closefd=False)
        sys.stderr = sys.__stderr__ = open(2, "w", buffering=1, encoding=enc, errors="backslashreplace", closefd=False)
        import faulthandler
        faulthandler.enable(file=sys.stderr)     # into the capture, not a copy of the parent's fd 2
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
        _serve(Connection(inbox_r, writable=False), Connection(ctl_w, readable=False), problems, max_threads)
    except BaseException:  # noqa: BLE001 - never return into the parent's code
        code = 70
    finally:
        os._exit(code)


_TORCH_IMPORT_THREADS = [1]     # native threads ``import torch`` starts (measured by note_torch_import)


def note_torch_import() -> None:
    """Import torch here if it is not yet, counting the native threads the import itself starts
    (so :func:`fork_threads` can tell them from an OpenMP pool started by a torch op)."""
    if "torch" in sys.modules:
        return
    before = _native_threads()
    import torch  # noqa: F401
    if before is not None:
        _TORCH_IMPORT_THREADS[0] = max(0, (_native_threads() or before) - before)


def _native_threads() -> int | None:
    """OS threads of this process that are not Python threads (None where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/task")) - threading.active_count()
    except OSError:
        return None


def fork_threads(jobs: int) -> int:
    """Torch intra-op threads for each of ``jobs`` forked workers: the cores shared out when this
    process has no native thread beyond those ``import torch`` starts (so no OpenMP pool, which a
    fork would break), else 1 (as PyTorch's own DataLoader workers do)."""
    native = _native_threads()
    alone = native is not None and native <= _TORCH_IMPORT_THREADS[0]
    return max(1, (os.cpu_count() or 1) // max(1, jobs)) if alone else 1


def can_fork_workers(device: str = "cpu") -> bool:
    """Whether compare workers may be forked from this process: POSIX, and no CUDA (a CUDA
    worker is spawned: a fork cannot use a CUDA context, nor one its parent initialised)."""
    if not hasattr(os, "fork") or str(device).startswith("cuda"):
        return False
    torch = sys.modules.get("torch")
    return not (torch is not None and torch.cuda.is_initialized())


class IsolatedWorker:
    """A worker process for compare tasks (see the module docstring), supervised from here.

    This one is a fresh interpreter (``subprocess``); :class:`ForkedWorker` is a fork of
    this process. ``submit(task)``, then feed ``step(ready)`` (or call ``run(task)``); each
    finished task gives ``(task, answer, alive)`` (a run's answer: its Result as a codec blob,
    :func:`solverhub.bench.tasks.result_of` reads it; a baseline's: JSON): a run's Result carries its captured
    output; a run past its hard limit is ``time_limit``, a dead worker ``failed``; ``alive``
    False means the worker is gone and must be replaced. ``device``: what the worker's runs
    use (a GPU worker is pinned to ``cuda:i``)."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES, device: str | None = None, **start):
        self.head, self.tail, self.device = head, tail, device
        self.process, inbox_w, ctl_r, out_r = self._start(**start)
        self.inbox = Connection(inbox_w, readable=False)
        self.sup = Supervised(self.process, Connection(ctl_r, writable=False), {out_r: "stdout"},
                              OutputCapture(head, tail))
        self.task = None
        self._started()

    def _start(self):
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        out_r, out_w = os.pipe()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from solverhub.isolation import _worker_main; _worker_main()",
                 str(p2c_r), str(c2p_w)], stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                pass_fds=(p2c_r, c2p_w), env=env, close_fds=True)
        finally:
            for fd in (p2c_r, c2p_w, out_w):
                os.close(fd)
        return process, p2c_w, c2p_r, out_r

    def _started(self) -> None:
        try:
            self.inbox.send(list(sys.path))       # the worker imports what this process can
        except OSError:
            pass

    def fds(self) -> list[int]:
        """This worker's descriptors held here (a worker forked later closes them)."""
        out = [*self.sup.outputs]
        for conn in (self.sup.conn, self.inbox):
            try:
                out.append(conn.fileno())
            except OSError:
                pass
        if self.sup.pidfd is not None:
            out.append(self.sup.pidfd)
        return out

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def submit(self, task) -> None:
        if self.device is not None and hasattr(task, "device") and task.device != self.device:
            import dataclasses
            task = dataclasses.replace(task, device=self.device)
        self.task = task
        self.sup.arm(task.time_limit_s, OutputCapture(self.head, self.tail))
        try:
            self.inbox.send(task)
        except OSError:       # it died while idle: the next step reports it
            pass

    def waitables(self) -> list:
        return self.sup.waitables()

    def deadline(self) -> float | None:
        return self.sup.deadline()

    def step(self, ready) -> tuple[Any, str, bool] | None:
        state = self.sup.step(ready)
        return None if state is None else self._finish(state)

    def expire_if_due(self, now: float) -> tuple[Any, str, bool] | None:
        deadline = self.sup.deadline()
        if deadline is None or now < deadline:
            return None
        return self._finish(self.sup.expire())

    def run(self, task) -> tuple[bytes | str, bool]:
        """Run one task here and now: ``(answer, alive)``."""
        self.submit(task)
        _, payload, alive = self._finish(supervise(self.sup))
        return payload, alive

    def _finish(self, state: str) -> tuple[Any, bytes | str, bool]:
        from .bench.codec import encode_result
        from .bench.tasks import BaselineTask, failed_baseline, failed_result, result_of
        from .result import Status
        task, self.task = self.task, None
        sup = self.sup
        output = sup.capture.text()
        ok = state == "done" and sup.message.get("t") == "done"
        alive = ok
        if state == "done" and not ok:      # the worker never sends anything else; a confused worker is replaced
            status, message = "failed", sup.message.get("message") or "worker process failed"
        elif state == "time_limit":
            status, message = "time_limit", f"killed after {sup.elapsed_s:.1f} s (time_limit_s={sup.limit_s:g})"
        elif not ok:
            status, message = "failed", f"worker process died: {describe_exit(sup.exit_code)}"
        if isinstance(task, BaselineTask):
            return task, (sup.message["payload"] if ok else failed_baseline(task, status, message)), alive
        if ok:
            payload = sup.message["payload"]
            if not output and isinstance(payload, bytes):
                return task, payload, alive         # the usual case: the worker's blob as it is
            result = result_of(payload)
        else:
            result = failed_result(task, Status(status), message, sup.elapsed_s)
            if sup.begin_info:
                result = result.replace(solver_version=sup.begin_info.get("solver_version", result.solver_version))
            result = result.replace(extras={**result.extras, "label": getattr(task, "label", "") or task.solver})
        return task, encode_result(result.replace(captured_output=output)), alive

    def close(self, timeout: float = 2.0) -> None:
        try:
            self.inbox.send(None)
        except OSError:
            pass
        if _wait_exit(self.process, timeout) is None:
            self.process.kill()
            _wait_exit(self.process, 5)
        try:
            self.inbox.close()
        except OSError:
            pass
        self.sup.close()

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:
            pass
        _wait_exit(self.process, 5)
        try:
            self.inbox.close()
        except OSError:
            pass
        self.sup.close()


class ForkedWorker(IsolatedWorker):
    """A persistent worker **forked** from this process: it starts in milliseconds with
    torch, the plugins and every Problem this process loaded already in memory
    (``problems``: content hash -> Problem, read by the runs instead of the files).
    ``threads``: its torch intra-op threads (:func:`fork_threads`); ``close_fds``: the
    descriptors of the other workers, closed in the child."""

    def _start(self, problems: dict | None = None, threads: int | None = None, close_fds=()):
        _before_fork()
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        out_r, out_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            for fd in (p2c_w, c2p_r, out_r):
                os.close(fd)
            _forked_main(p2c_r, c2p_w, out_w, parent, problems, threads, list(close_fds))
        for fd in (p2c_r, c2p_w, out_w):
            os.close(fd)
        return _Forked(pid), p2c_w, c2p_r, out_r

    def _started(self) -> None:
        pass
