"""The first process: binds the sockets, forks the workers, stops them on SIGTERM/SIGINT.

Before forking it creates the server's shared store (`SharedStore`, Kamailio's shared memory) and
one channel per worker (channel.py); each worker opens its own connection to the store and builds
its `Server` with it, its rank and the number of workers. The store is deleted at shutdown.

With `fork=no` the first process is the only worker (rank 1 of 1). With `fork=yes` it forks one
process per worker (see README.md for how `children` and `tcp_children` map), waits until each has
built its server and called `child_init`, then only watches: SIGTERM or SIGINT stops every worker
(SIGKILL after `exit_timeout`) and exits 0; a worker that dies on its own stops the others and
exits 1.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kampy.net.binding import Listener
from kampy.net.channel import Channels
from kampy.net.params import NetParams
from kampy.net.worker import run_worker
from kampy.runtime.shared import SharedStore

if TYPE_CHECKING:
    from kampy.runtime.server import Server

# (rank, workers, that worker's connection to the shared store) -> its Server
ServerFactory = Callable[[int, int, SharedStore], "Server"]

log = logging.getLogger("kampy.net")

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_WATCHED = _STOP_SIGNALS | {signal.SIGCHLD}


def serve(server_factory: ServerFactory, listeners: list[Listener], params: NetParams) -> int:
    """Serve until told to stop; return the process exit code."""
    store = SharedStore.create()
    try:
        if not params.fork:
            ready = lambda: logging.getLogger("kampy.listen").info("ready: one process (fork=no)")  # noqa: E731
            return run_worker(lambda rank: server_factory(rank, 1, store), listeners, params, rank=1,
                              ready=ready)
        store.close()  # a connection is not carried across fork: each worker opens its own
        return Supervisor(server_factory, listeners, params, store).run()
    finally:
        store.remove()


class Supervisor:
    def __init__(self, server_factory: ServerFactory, listeners: list[Listener],
                 params: NetParams, store: SharedStore) -> None:
        self.server_factory = server_factory
        self.listeners = listeners
        self.params = params
        self.store = store
        self.workers: dict[int, int] = {}  # pid -> rank

    def run(self) -> int:
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
        ready_r, ready_w = os.pipe()
        channels = Channels(self.params.processes)
        try:
            for rank in range(1, self.params.processes + 1):
                pid = os.fork()
                if pid == 0:
                    os.close(ready_r)
                    self._child(rank, ready_w, old_mask, channels)  # never returns
                self.workers[pid] = rank
            os.close(ready_w)
            for listener in self.listeners:  # the workers hold them now
                listener.close()
            channels.close()
            return self._watch(ready_r)
        finally:
            os.close(ready_r)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    def _child(self, rank: int, ready_w: int, old_mask: set[signal.Signals], channels: Channels) -> None:
        code = 1
        try:
            # Ctrl-C reaches the whole process group: the supervisor alone acts on it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            channels.attach(rank)
            workers = self.params.processes
            code = run_worker(lambda r: self.server_factory(r, workers, self.store.reopen()),
                              self.listeners, self.params, rank, ready=lambda: os.write(ready_w, b"r"),
                              stop_on=(signal.SIGTERM,), channels=channels)
        except BaseException:
            log.exception("worker %d failed", rank)
        finally:
            logging.shutdown()
            os._exit(code)

    def _watch(self, ready_r: int) -> int:
        os.set_blocking(ready_r, False)
        ready = 0
        while True:
            info = signal.sigtimedwait(_WATCHED, 0.1 if ready < len(self.workers) else 5.0)
            if ready < len(self.workers):
                ready += _drain(ready_r)
                if ready == len(self.workers):
                    logging.getLogger("kampy.listen").info(
                        "ready: %d worker process%s", ready, "es" if ready != 1 else "")
            if info is None:
                continue
            if info.si_signo in _STOP_SIGNALS:
                log.info("got %s, stopping", signal.Signals(info.si_signo).name)
                self._stop_all()
                return 0
            dead = self._reap()
            if dead:
                for pid, rank, status in dead:
                    log.error("worker %d (pid %d) exited unexpectedly (%s)", rank, pid, _describe(status))
                self._stop_all()
                return 1

    def _reap(self) -> list[tuple[int, int, int]]:
        dead = []
        while self.workers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            rank = self.workers.pop(pid, None)
            if rank is not None:
                dead.append((pid, rank, status))
        return dead

    def _stop_all(self) -> None:
        for pid in self.workers:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.params.exit_timeout
        while self.workers and time.monotonic() < deadline:
            self._reap()
            if self.workers:
                signal.sigtimedwait({signal.SIGCHLD}, 0.05)
        for pid, rank in list(self.workers.items()):
            log.warning("worker %d (pid %d) did not stop in %gs; killing it", rank, pid,
                        self.params.exit_timeout)
            _kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.workers.clear()


def _drain(fd: int) -> int:
    try:
        return len(os.read(fd, 4096))
    except BlockingIOError:
        return 0


def _kill(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
