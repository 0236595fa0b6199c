"""Becoming a daemon as Kamailio does (core/daemonize.c), and giving up root after binding.

`daemonize()`: chroot (`-t`) and chdir (`-w`, default `/`); unless `-DD`, fork, `setsid`, fork
again, the first process waiting for a status byte from the main process (`StatusPipe`): it exits
0 once the main process says the server is up, with the main process's failure status otherwise
(255, also when the main process dies before saying anything). Then the pid file (`-P`, refused
when it names a running process) and the pgid file (`-G`), stdin and stdout on /dev/null (stderr
too unless logging there), every other descriptor closed.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import pwd
import sys
from dataclasses import dataclass, field

from kampy.runtime.identity import group2gid, user2uid

log = logging.getLogger("kampy.daemon")

FAILURE = 255


class DaemonError(Exception):
    """Start-up cannot go on (the message is for the log and stderr)."""


class StatusPipe:
    """daemon_status_*(): the process that was started waits on it for the main process's word."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    def wait(self) -> int:
        """In the waiting process: the exit status the main process sent (255 if it sent none)."""
        os.close(self.write_fd)
        while True:
            try:
                data = os.read(self.read_fd, 1)
                break
            except InterruptedError:
                continue
        if not data:
            print("ERROR: Main process exited before writing to pipe", file=sys.stderr)
            return FAILURE
        return data[0]

    def forget_reader(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.read_fd)

    def send(self, status: int) -> None:
        """In the main process, once: 0 when the server is up, 255 when it could not start."""
        if self.write_fd < 0:
            return
        with contextlib.suppress(OSError):
            os.write(self.write_fd, bytes((status & 0xFF,)))
            os.close(self.write_fd)
        self.write_fd = -1


@dataclass(frozen=True)
class Identity:
    """Who to become after binding (`-u`, `-g`): 0 means "no change" as in Kamailio."""

    uid: int = 0
    gid: int = 0

    @property
    def sock_owner(self) -> tuple[int, int]:
        """sock_uid/sock_gid: who owns the control sockets and a created runtime dir (-1: keep)."""
        return (self.uid or -1, self.gid or -1)


def resolve_identity(user: str | None, group: str | None) -> Identity:
    """user2uid()/group2gid(): a number or a name; a user name brings its group along."""
    uid = gid = 0
    if user:
        try:
            uid, user_gid = user2uid(user)
        except ValueError:
            raise DaemonError(f"bad user name/uid number: -u {user}") from None
        gid = user_gid if user_gid is not None else gid
    if group:
        try:
            gid = group2gid(group)
        except ValueError:
            raise DaemonError(f"bad group name/gid number: -u {group}") from None
    return Identity(uid, gid)


def drop_privileges(who: Identity) -> None:
    """do_suid(): the group, the user's supplementary groups, then the user."""
    if who.gid and who.gid != os.getgid():
        try:
            os.setgid(who.gid)
        except OSError as exc:
            raise DaemonError(f"cannot change gid to {who.gid}: {exc.strerror}") from None
    if who.uid:
        try:
            entry = pwd.getpwuid(who.uid)
        except KeyError:
            raise DaemonError(f"user lookup failed: no user with uid {who.uid}") from None
        if who.uid != os.getuid():
            try:
                os.initgroups(entry.pw_name, entry.pw_gid)
                os.setuid(who.uid)
            except OSError as exc:
                raise DaemonError(f"cannot change uid to {who.uid}: {exc.strerror}") from None


def ensure_runtime_dir(path: str, who: Identity) -> None:
    """Create the runtime dir (0700, owned by -u/-g) when it does not exist."""
    if os.path.exists(path):
        return
    try:
        os.mkdir(path, 0o700)
        uid, gid = who.sock_owner
        if uid != -1 or gid != -1:
            os.chown(path, uid, gid)
    except OSError:
        raise DaemonError(f"failed to create runtime dir {path}, check directory permissions") from None


@dataclass
class Daemonized:
    """What daemonize() leaves the main process: the pipe to report the start-up on (None when
    nobody waits) and the files it wrote (they go at exit, and only they)."""

    status: StatusPipe | None = None
    files: list[str] = field(default_factory=list)

    def report(self, code: int) -> None:
        if self.status is not None:
            self.status.send(code)

    def remove_files(self) -> None:
        remove_files(*self.files)
        self.files.clear()


def daemonize(*, detach: bool, workdir: str, chroot: str | None, pid_file: str | None,
              pgid_file: str | None, who: Identity, keep_stderr: bool) -> Daemonized:
    """Kamailio's daemonize(name, 1). Returns in the main process; the first process never returns
    (it exits with the status the main process reports, 255 when it reports none)."""
    if chroot:
        preload_code()
        try:
            os.chroot(chroot)
        except OSError as exc:
            raise DaemonError(f"Cannot chroot to {chroot}: {exc.strerror}") from None
    try:
        os.chdir(workdir)
    except OSError as exc:
        raise DaemonError(f"cannot chdir to {workdir}: {exc.strerror}") from None
    done = Daemonized()
    own_pgid = False
    if detach:
        status = done.status = StatusPipe()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() != 0:
            os._exit(status.wait())
        status.forget_reader()
        try:
            os.setsid()
            own_pgid = True
        except OSError as exc:
            log.warning("setsid failed: %s", exc.strerror)
        if os.fork() != 0:
            os._exit(0)
    try:
        if pid_file:
            _write_pid_file(pid_file, os.getpid(), who)
            done.files.append(pid_file)
        if pgid_file and _write_pgid_file(pgid_file, own_pgid, who):
            done.files.append(pgid_file)
    except DaemonError:
        done.remove_files()
        done.report(FAILURE)
        raise
    _to_dev_null(keep_stderr, done.status.write_fd if done.status is not None else -1)
    return done


def preload_code(packages: tuple[str, ...] = ("kampy", "kampy.modules")) -> None:
    """Import all of kampy and its modules now: after chroot (-t) the source files are out of reach,
    and after -u they may be unreadable (as Kamailio loads its modules before either). What the
    chroot directory must hold, as for Kamailio: /dev/null, a writable /tmp (or /dev/shm) for the
    shared store, the paths the config names."""
    import importlib
    import pkgutil

    for name in packages:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if ".tests" in info.name or info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # an optional part that cannot load here is not needed
                log.debug("not preloaded: %s: %s", info.name, exc)
    for name in ("encodings.idna", "encodings.ascii", "encodings.latin_1", "asyncio.unix_events",
                 "concurrent.futures.thread", "sqlite3.dbapi2", "json.decoder", "email.utils"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _old_number(path: str, what: str) -> int | None:
    try:
        text = open(path).read()
    except OSError:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        raise DaemonError(f"{what} file {path} exists, but doesn't contain a valid {what} number") from None


def _write_number(path: str, number: int, who: Identity) -> None:
    try:
        with open(path, "w") as out:
            out.write(f"{number}\n")
        os.chown(path, who.uid or -1, who.gid or -1)
    except OSError as exc:
        raise DaemonError(f"unable to create {path}: {exc.strerror}, check directory permissions") from None


def _write_pid_file(path: str, pid: int, who: Identity) -> None:
    old = _old_number(path, "pid")
    if old is not None:
        if _running(old):
            raise DaemonError(f"running process found in the pid file {path}")
        log.warning("pid file contains old pid, replacing pid")
    _write_number(path, pid, who)


def _write_pgid_file(path: str, own_pgid: bool, who: Identity) -> bool:
    _old_number(path, "pgid")
    if own_pgid:
        _write_number(path, os.getpgid(0), who)
        return True
    log.warning("we don't have our own process so we won't save our pgid")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return False


def _to_dev_null(keep_stderr: bool, keep_fd: int) -> None:
    """stdin, stdout (and stderr unless logging there) on /dev/null; other descriptors closed."""
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1) if keep_stderr else (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    try:
        top = os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        top = 1024
    if keep_fd >= 3:
        os.closerange(3, keep_fd)
        os.closerange(keep_fd + 1, top)
    else:
        os.closerange(3, top)


def remove_files(*paths: str | None) -> None:
    """At exit: the pid and pgid files go (cleanup())."""
    for path in paths:
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)
