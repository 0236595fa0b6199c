"""The first process: binds the sockets, forks the workers, stops them on SIGTERM/SIGINT.

Before forking it creates the server's shared store (`SharedStore`, Kamailio's shared memory, each
shared table's heap bounded by `-m`), records itself as process 0 ("main process - attendant" in
core.psx), and runs the start-up's `Lifecycle.before_fork` (the command line gives the store to
`-u`/`-g` there); then one channel per worker (channel.py); each worker opens its own connection to
the store, builds its `Server` with it, its rank and the number of workers, opens its control
sockets, and only then gives up root (`Lifecycle.drop_privileges`, before child_init), as Kamailio's
modules create theirs in mod_init; the first process gives up root once the workers are forked.
The store is deleted at shutdown.

With `fork=no` the first process is the only worker (rank 1 of 1). With `fork=yes` it forks one
process per worker (see README.md for how `children` and `tcp_children` map), waits until each has
built its server and called `child_init` (then `Lifecycle.ready`: the command line tells the process
that started it that the server is up), then only watches, as Kamailio's main process:

* SIGTERM or SIGINT stops every worker (SIGTERM, SIGKILL after `exit_timeout`) and exits 0;
* SIGHUP is ignored and SIGUSR1 logs the memory status (when `memlog` <= `debug`), as in 5.6;
* a worker that dies on its own stops the others and exits 1.

The workers hold the read end of a pipe whose write end only this process holds: when it dies,
however (SIGKILL), they see the pipe close, stop as on SIGTERM, and the last one deletes the store.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kampy.errors import ConfigError
from kampy.net.binding import Listener
from kampy.net.channel import Channels
from kampy.runtime.params import NetParams
from kampy.net.worker import WorkerSignals, run_worker
from kampy.runtime.procs import MAIN_PROCESS, record_process
from kampy.runtime.loglevels import NOTICE
from kampy.runtime.memstatus import log_memory_status
from kampy.runtime.shared import SharedStore

if TYPE_CHECKING:
    from kampy.runtime.server import Server

# (rank, processes with a rank, that process's connection to the shared store, what it runs of the
# modules' own processes: "inline", "worker" or the index of the one it is) -> its Server
ServerFactory = Callable[[int, int, SharedStore, "str | int"], "Server"]

log = logging.getLogger("kampy.net")

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_WATCHED = _STOP_SIGNALS | {signal.SIGCHLD, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}


@dataclass
class Lifecycle:
    """What the start-up asks of the first process around the workers' start."""

    before_fork: Callable[[SharedStore], None] | None = None  # with the new store, before any fork
    drop_privileges: Callable[[], None] | None = None  # in each worker once its control sockets are
    #                                  open, and in the first process once the workers are forked
    ready: Callable[[], None] | None = None                   # every worker serves
    worker_started: Callable[[int], None] | None = None       # in a new worker, with its rank


def serve(server_factory: ServerFactory, listeners: list[Listener], params: NetParams,
          lifecycle: Lifecycle | None = None, module_processes: int = 0) -> int:
    """Serve until told to stop; return the process exit code. `module_processes`: how many
    processes of their own the modules run (Exports.processes), forked after the workers with the
    ranks that follow theirs; with fork=no their jobs run in the one process."""
    lifecycle = lifecycle or Lifecycle()
    store = SharedStore.create(heap_size=params.shm_size)
    try:
        if params.fork:
            record_process(store, 0, MAIN_PROCESS)
        if lifecycle.before_fork is not None:
            lifecycle.before_fork(store)
        if not params.fork:
            return run_worker(lambda rank: server_factory(rank, 1, store, "inline"), listeners, params,
                              rank=1,
                              ready=lambda: _ready("one process (fork=no)", lifecycle),
                              signals=WorkerSignals.alone(params, store),
                              drop_privileges=lifecycle.drop_privileges)
        store.close()  # a connection is not carried across fork: each worker opens its own
        return Supervisor(server_factory, listeners, params, store, lifecycle, module_processes).run()
    finally:
        store.remove()


def _ready(what: str, lifecycle: Lifecycle) -> None:
    logging.getLogger("kampy.listen").info("ready: %s", what)
    if lifecycle.ready is not None:
        lifecycle.ready()


OPENED, READY = b"o", b"r"


class Supervisor:
    def __init__(self, server_factory: ServerFactory, listeners: list[Listener],
                 params: NetParams, store: SharedStore, lifecycle: Lifecycle,
                 module_processes: int = 0) -> None:
        self.server_factory = server_factory
        # ranks 1..params.processes serve the sockets; the module processes follow
        self.ranks = params.processes + module_processes
        self.listeners = listeners
        self.params = params
        self.store = store
        self.lifecycle = lifecycle
        self.workers: dict[int, int] = {}  # pid -> rank
        self._gate_w: int | None = None

    def run(self) -> int:
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
        ready_r, ready_w = os.pipe()  # each worker writes OPENED, then READY
        life_r, life_w = os.pipe()  # the workers' read end closes when this process is gone
        gate_r, self._gate_w = os.pipe()  # closed once every worker opened: then they serve SIP
        channels = Channels(self.ranks)
        try:
            for rank in range(1, self.ranks + 1):
                pid = os.fork()
                if pid == 0:
                    os.close(ready_r)
                    os.close(life_w)
                    os.close(self._gate_w)
                    self._child(rank, ready_w, life_r, gate_r, old_mask, channels)  # never returns
                self.workers[pid] = rank
            os.close(ready_w)
            os.close(life_r)
            os.close(gate_r)
            if self.lifecycle.drop_privileges is not None:
                self.lifecycle.drop_privileges()
            for listener in self.listeners:  # the workers hold them now
                listener.close()
            channels.close()
            return self._watch(ready_r)
        finally:
            os.close(ready_r)
            os.close(life_w)
            self._open_gate()
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    def _open_gate(self) -> None:
        if self._gate_w is not None:
            os.close(self._gate_w)
            self._gate_w = None

    def _child(self, rank: int, ready_w: int, life_r: int, gate_r: int, old_mask: set[signal.Signals],
               channels: Channels) -> None:
        code = 1
        try:
            # Ctrl-C reaches the whole process group: the supervisor alone acts on it; SIGHUP,
            # SIGUSR1 and SIGUSR2 change nothing in a worker (Kamailio's sig_usr() in a child).
            for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
                signal.signal(sig, signal.SIG_IGN)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # SIGTERM stays blocked until the worker's loop handles it (worker._serve): one that comes
            # while the worker starts waits, then stops it in order (the modules' destroy runs)
            # instead of killing it
            signal.pthread_sigmask(signal.SIG_SETMASK, {*old_mask, signal.SIGTERM})
            if self.lifecycle.worker_started is not None:
                self.lifecycle.worker_started(rank)
            channels.attach(rank)
            ranks = self.ranks
            workers = self.params.processes
            process: str | int = "worker" if rank <= workers else rank - workers - 1
            code = run_worker(lambda r: self.server_factory(r, ranks, self.store.reopen(), process),
                              self.listeners, self.params, rank, ready=lambda: os.write(ready_w, READY),
                              opened=lambda: _wait_for_gate(ready_w, gate_r),
                              signals=WorkerSignals(stop_on=(signal.SIGTERM,), parent_gone_fd=life_r),
                              channels=channels, drop_privileges=self.lifecycle.drop_privileges)
        except ConfigError as exc:  # a module refused the config when the worker built it
            log.error("worker %d: %s", rank, exc)
        except BaseException:
            log.exception("worker %d failed", rank)
        finally:
            try:
                self.store.remove_if_last()
            finally:
                logging.shutdown()
                os._exit(code)

    def _watch(self, ready_r: int) -> int:
        os.set_blocking(ready_r, False)
        opened = ready = 0
        while True:
            info = signal.sigtimedwait(_WATCHED, 0.1 if ready < len(self.workers) else 5.0)
            if ready < len(self.workers):
                news = _drain(ready_r)
                opened += news.count(OPENED)
                ready += news.count(READY)
                if opened == len(self.workers):
                    self._open_gate()
                if ready == len(self.workers):
                    _ready(f"{ready} worker process{'es' if ready != 1 else ''}", self.lifecycle)
            if info is None:
                continue
            sig = info.si_signo
            if sig in _STOP_SIGNALS:
                log.info("got %s, stopping", signal.Signals(sig).name)
                logging.getLogger("kampy.core").log(NOTICE, "Thank you for flying kampy!!!")
                self._stop_all()
                return 0
            if sig == signal.SIGHUP:
                log.debug("SIGHUP received, ignoring it")
                continue
            if sig == signal.SIGUSR1:
                log_memory_status(self.params, self.store)
                continue
            if sig == signal.SIGUSR2:
                log.critical("unhandled signal %d", sig)
                continue
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
        self._open_gate()  # a worker still waiting at it goes on to its loop, which handles SIGTERM
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


def _drain(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def _wait_for_gate(ready_w: int, gate_r: int) -> None:
    """Tell the supervisor this worker has opened its control sockets, then wait until every worker
    has: SIP is answered only once all of them exist (Kamailio opens ctl's before it forks), so a
    client that got an answer can use them."""
    os.write(ready_w, OPENED)
    while os.read(gate_r, 1):
        pass
    os.close(gate_r)


def _kill(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
