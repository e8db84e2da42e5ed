"""The supervisor of a multi-process server: start N workers, keep them running, stop them.

Theory of operation
-------------------
The supervisor is a plain (non-trio) process: it never forks inside an event loop, it starts
each worker with multiprocessing's *spawn* method, and waits on the workers' pipes and process
sentinels with :func:`multiprocessing.connection.wait`.

1. **Start-up.** Every worker must report "listening" within ``startup_timeout``. If one dies
   or reports a failure first, the supervisor stops the others and returns 1 with one line on
   stderr (no restart loop on a configuration error such as a port in use). Once all listen, it
   prints ``serving on URL with N workers``.
2. **Running.** A worker that exits unexpectedly is restarted after a backoff (0.1 s doubling
   to 10 s, reset once a worker has stayed up for a minute), logged as a warning.
3. **Stopping.** SIGINT or SIGTERM: each listening worker gets one SIGTERM and closes its
   clients with 1001 (going away); a worker still starting is killed (it has no clients). A
   worker still running after ``graceful_timeout`` seconds is killed, and the supervisor then
   exits with status 1.

Each worker gets a :class:`~trioproto._worker_context.WorkerContext`: its index (kept by a
restarted worker), its node id, and a private directory the supervisor creates at start-up and
removes when it returns, where the workers leave what the others read (the metrics endpoint's
snapshots).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TextIO

from ._worker import FAILED, LISTENING, WorkerSpec, worker_main
from ._worker_context import WorkerContext

__all__ = ["Supervisor"]

logger = logging.getLogger("trioproto.supervisor")

_POLL_SECONDS = 0.1
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 10.0
_STABLE_SECONDS = 60.0


@dataclass
class _Slot:
    """One worker position: the process filling it now and its restart history."""

    number: int
    process: BaseProcess | None = None
    pipe: Connection | None = None
    node_id: str = ""
    listening: bool = False
    started_at: float = 0.0
    backoff: float = _FIRST_BACKOFF
    restart_at: float | None = None
    failure: str | None = None


class Supervisor:
    """Runs ``workers`` copies of a :class:`WorkerSpec`; :meth:`run` returns the exit status.

    Raises:
        ValueError: ``workers`` < 1, or the spec (the application) cannot be pickled.
    """

    def __init__(
        self,
        spec: WorkerSpec,
        workers: int,
        *,
        url: str,
        unix_socket: socket.socket | None = None,
        graceful_timeout: float = 10.0,
        startup_timeout: float = 30.0,
        announce: TextIO | None = sys.stdout,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        try:
            self._pickled_spec = pickle.dumps(spec)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"the application cannot be sent to worker processes ({exc}); define it and "
                "its handlers at module level"
            ) from None
        self._unix_socket = unix_socket
        self._slots = [_Slot(number) for number in range(workers)]
        self._url = url
        self._graceful_timeout = graceful_timeout
        self._startup_timeout = startup_timeout
        self._announce = announce
        self._context = multiprocessing.get_context("spawn")
        self._stop_signal: int | None = None
        self._started = False  # every worker listened once: deaths from now on are restarted
        self._shared_directory = ""  # made by run(), removed when it returns

    def run(self) -> int:
        """Start the workers, supervise them until SIGINT/SIGTERM, stop them; the exit status."""
        try:
            self._shared_directory = tempfile.mkdtemp(prefix="trioproto-workers-")  # mode 0700
        except OSError as exc:
            print(f"error: cannot create the workers' directory: {exc}", file=sys.stderr)
            return 1
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for slot in self._slots:
                self._start(slot)
            error = self._wait_until_listening()
            if error is not None:
                self._stop_all()
                print(f"error: {error}", file=sys.stderr)
                return 1
            self._started = True
            if self._stop_signal is None and self._announce is not None:
                print(
                    f"serving on {self._url} with {len(self._slots)} workers", file=self._announce
                )
                self._announce.flush()
            self._supervise()
            return self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            shutil.rmtree(self._shared_directory, ignore_errors=True)

    # ---------------------------------------------------------------- phases

    def _wait_until_listening(self) -> str | None:
        """``None`` once every worker listens (or a stop was asked); else the one-line error."""
        deadline = time.monotonic() + self._startup_timeout
        while self._stop_signal is None and not all(slot.listening for slot in self._slots):
            self._poll(_POLL_SECONDS)
            for slot in self._slots:
                if slot.failure is not None:
                    return f"worker {slot.number} could not start: {slot.failure}"
            if time.monotonic() > deadline:
                return f"the workers did not all listen within {self._startup_timeout:g} s"
        return None

    def _supervise(self) -> None:
        while self._stop_signal is None:
            self._poll(_POLL_SECONDS)
            now = time.monotonic()
            for slot in self._slots:
                if slot.process is None and slot.restart_at is not None and now >= slot.restart_at:
                    self._start(slot)

    def _stop_all(self) -> int:
        """SIGTERM every worker, wait ``graceful_timeout``, kill the rest; the exit status."""
        running = [slot for slot in self._slots if slot.process is not None]
        for slot in running:
            assert slot.process is not None
            if slot.process.pid is None or not slot.process.is_alive():
                continue
            if slot.listening:
                os.kill(slot.process.pid, signal.SIGTERM)
            else:
                slot.process.kill()  # still starting: no clients yet, and SIGTERM not handled
                slot.failure = slot.failure or "stopped while starting"
        deadline = time.monotonic() + self._graceful_timeout
        status = 0
        for slot in running:
            assert slot.process is not None
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.exitcode is None:
                print(
                    f"error: worker {slot.number} (pid {slot.process.pid}) did not stop within "
                    f"{self._graceful_timeout:g} s; killed",
                    file=sys.stderr,
                )
                slot.process.kill()
                slot.process.join()
                status = 1
            elif slot.process.exitcode != 0 and slot.failure is None and slot.listening:
                # A worker that never listened failed during start-up like the one whose
                # error was just printed (it exited before its report was read): that one
                # line says it all.
                logger.error(
                    "worker %d (pid %s) exited with status %s while stopping",
                    slot.number,
                    slot.process.pid,
                    slot.process.exitcode,
                )
                status = 1
        return status

    # --------------------------------------------------------------- helpers

    def _start(self, slot: _Slot) -> None:
        receiver, sender = self._context.Pipe(duplex=False)
        slot.node_id = uuid.uuid4().hex
        worker = WorkerContext(slot.number, slot.node_id, self._shared_directory)
        slot.process = self._context.Process(
            target=worker_main,
            args=(self._pickled_spec, self._unix_socket, worker, sender),
            name=f"trioproto-worker-{slot.number}",
        )
        slot.process.start()
        sender.close()  # the child holds the only write end: EOF when it dies
        slot.pipe = receiver
        slot.listening = False
        slot.restart_at = None
        slot.failure = None
        slot.started_at = time.monotonic()

    def _poll(self, timeout: float) -> None:
        """Wait for a pipe message or a worker exit (or ``timeout``), then handle them."""
        waitables: list[object] = []
        for slot in self._slots:
            if slot.pipe is not None:
                waitables.append(slot.pipe)
            if slot.process is not None:
                waitables.append(slot.process.sentinel)
        if waitables:
            wait(waitables, timeout)  # type: ignore[arg-type]
        else:
            time.sleep(timeout)
        for slot in self._slots:
            self._read_pipe(slot)
            if slot.process is not None and slot.process.exitcode is not None:
                self._reap(slot)

    def _read_pipe(self, slot: _Slot) -> None:
        while slot.pipe is not None and slot.pipe.poll():
            try:
                message = slot.pipe.recv()
            except (EOFError, OSError):
                slot.pipe.close()
                slot.pipe = None
                return
            if message == LISTENING:
                slot.listening = True
                logger.info(
                    "worker %d (pid %s, node %s) listening",
                    slot.number,
                    slot.process.pid if slot.process else None,
                    slot.node_id,
                )
            elif isinstance(message, str) and message.startswith(FAILED):
                slot.failure = message.removeprefix(f"{FAILED}: ")

    def _reap(self, slot: _Slot) -> None:
        """A worker exited: record why; outside start-up and stopping, schedule a restart."""
        assert slot.process is not None
        exitcode = slot.process.exitcode
        if slot.failure is None and not slot.listening:
            slot.failure = f"the worker process exited with status {exitcode}"
        if not self._started or self._stop_signal is not None:
            return  # start-up or stopping: the phase in charge reads slot.failure
        uptime = time.monotonic() - slot.started_at
        if uptime > _STABLE_SECONDS:
            slot.backoff = _FIRST_BACKOFF
        logger.warning(
            "worker %d (pid %s) exited with status %s; restarting in %.1f s",
            slot.number,
            slot.process.pid,
            exitcode,
            slot.backoff,
        )
        slot.process.close()
        slot.process = None
        if slot.pipe is not None:
            slot.pipe.close()
            slot.pipe = None
        slot.restart_at = time.monotonic() + slot.backoff
        slot.backoff = min(slot.backoff * 2, _MAX_BACKOFF)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_signal = signum
