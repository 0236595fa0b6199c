"""jsonrpcs' control files: the FIFO and the unix datagram socket get the mode and the owner the
module's parameters give them (fifo_mode/fifo_user/fifo_group, dgram_mode/dgram_user/dgram_group),
as Kamailio's jsonrpcs gives them."""
from __future__ import annotations

import grp
import logging
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kampy.config.pipeline import load_text
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from tests.e2e.kampy_process import running_kampy
from tests.support.runtime import SOCKET

CFG = """loadmodule "sl"
loadmodule "jsonrpcs"
modparam("jsonrpcs", "transport", 6)
modparam("jsonrpcs", "fifo_name", "{dir}/rpc.fifo")
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
{extra}
request_route {{ sl_send_reply("404", "Not here"); }}
"""
NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrnam("nogroup").gr_gid


@contextmanager
def started(extra: str, directory: str = "/nonexistent") -> Iterator[Server]:
    srv = Server.from_config(load_text(CFG.format(dir=directory, extra=extra)), sockets=[SOCKET],
                             shared=SharedStore.create())
    try:
        yield srv
    finally:
        store = srv.core.shared
        srv.shutdown()
        store.remove()


def owners(srv: Server) -> dict[str, tuple[int, int]]:
    return {s.kind: s.owner for s in srv.core.services}


def test_without_user_and_group_the_files_keep_kampys_owner():
    with started("") as srv:
        assert owners(srv) == {"fifo": (-1, -1), "dgram": (-1, -1)}


def test_fifo_user_by_name_owns_the_fifo_with_the_users_group():
    with started('modparam("jsonrpcs", "fifo_user", "nobody")') as srv:
        assert owners(srv) == {"fifo": (NOBODY.pw_uid, NOBODY.pw_gid), "dgram": (-1, -1)}


def test_fifo_group_overrides_the_users_group():
    params = 'modparam("jsonrpcs", "fifo_user", "nobody")\nmodparam("jsonrpcs", "fifo_group", "nogroup")'
    with started(params) as srv:
        assert owners(srv)["fifo"] == (NOBODY.pw_uid, NOGROUP)


def test_dgram_user_and_group_as_numbers_own_the_datagram_socket():
    params = 'modparam("jsonrpcs", "dgram_user", 4242)\nmodparam("jsonrpcs", "dgram_group", "4343")'
    with started(params) as srv:
        assert owners(srv) == {"fifo": (-1, -1), "dgram": (4242, 4343)}


@pytest.mark.parametrize("param", ["fifo_user", "dgram_user", "fifo_group", "dgram_group"])
def test_an_unknown_user_or_group_stops_the_start_up(param):
    with pytest.raises(Exception, match="bad (user|group) name no-such-account"), \
            started(f'modparam("jsonrpcs", "{param}", "no-such-account")'):
        pass


def test_fifo_mode_0_becomes_0600_with_kamailios_warning(caplog):
    with caplog.at_level(logging.WARNING), started('modparam("jsonrpcs", "fifo_mode", 0)') as srv:
        assert {s.kind: s.mode for s in srv.core.services}["fifo"] == 0o600
    assert "cannot specify fifo_mode = 0, forcing it to rw-------" in caplog.text


def test_a_running_kampy_creates_the_fifo_and_socket_with_their_modes_and_owners(tmp_path: Path):
    extra = ('modparam("jsonrpcs", "fifo_user", "nobody")\nmodparam("jsonrpcs", "fifo_mode", 0640)\n'
             'modparam("jsonrpcs", "dgram_group", "nogroup")\nmodparam("jsonrpcs", "dgram_mode", 0600)')
    with running_kampy(CFG.format(dir=tmp_path, extra=extra), tmp_path):
        fifo, sock = os.stat(tmp_path / "rpc.fifo"), os.stat(tmp_path / "rpc.sock")
    assert (fifo.st_uid, fifo.st_gid, fifo.st_mode & 0o777) == (NOBODY.pw_uid, NOBODY.pw_gid, 0o640)
    assert (sock.st_uid, sock.st_gid, sock.st_mode & 0o777) == (os.getuid(), NOGROUP, 0o600)
