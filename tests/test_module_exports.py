"""The export declarations of kampy's built-in modules: shape and Kamailio 5.6 facts."""

from __future__ import annotations

import importlib
import re

import pytest

from kampy.loader import builtin_names
from kampy.module import ArgKind, Exports, RouteType

MODULES = builtin_names()  # every package under modules/, as the loader finds them


def exports(name: str) -> Exports:
    return importlib.import_module(f"kampy.modules.{name}").EXPORTS


@pytest.fixture(params=MODULES)
def ex(request: pytest.FixtureRequest) -> Exports:
    return exports(request.param)


def test_is_exports_named_after_folder(ex: Exports) -> None:
    assert isinstance(ex, Exports)
    assert ex.name in MODULES


def test_every_declared_handler_exists_on_the_implementation(ex: Exports) -> None:
    """Every function and timer a module declares has its handler; a module without an instance
    (the DB drivers, which register a driver when imported) declares none."""
    missing = [f.name for f in ex.functions if not callable(getattr(ex.factory, f.handler_name, None))]
    missing += [t.handler for t in ex.timers if not callable(getattr(ex.factory, t.handler, None))]
    assert missing == []


@pytest.mark.parametrize("name", MODULES)
def test_name_matches_folder(name: str) -> None:
    assert exports(name).name == name


def test_names_unique(ex: Exports) -> None:
    for kind, items in (
        ("params", ex.params),
        ("functions", ex.functions),
        ("stats", ex.stats),
        ("rpc", ex.rpc),
        ("pvars", ex.pvars),
        ("transforms", ex.transforms),
        ("timers", ex.timers),
    ):
        # a function may be declared once per number of arguments, as Kamailio's cmd_exports
        names = [(i.name, len(i.args)) if kind == "functions" else i.name for i in items]
        assert len(names) == len(set(names)), f"{ex.name}: duplicate {kind}"


def test_param_defaults_have_declared_type(ex: Exports) -> None:
    for p in ex.params:
        assert p.types and all(t in (int, str) for t in p.types), p.name
        assert p.default is None or isinstance(p.default, p.types), f"{ex.name}.{p.name}"


def test_functions_well_formed(ex: Exports) -> None:
    for f in ex.functions:
        assert isinstance(f.routes, RouteType), f.name
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", f.name), f.name
        assert 0 <= f.required <= len(f.args), f.name
        assert f.doc, f"{ex.name}.{f.name} has no doc"
        for a in f.args:
            assert isinstance(a.kind, ArgKind)
            assert (a.kind is ArgKind.ROUTE) == (a.route_kind is not None), f"{f.name}({a.name})"


def test_rpc_names_are_dotted(ex: Exports) -> None:
    for r in ex.rpc:
        assert re.fullmatch(r"\w+\.\w+", r.name), r.name
        assert r.handler


# --- msilo: the seed's defaults, except sc_mid


SEED_DEFAULTS = {
    "db_table": "silo",
    "sc_from": "src_addr",
    "sc_to": "dst_addr",
    "sc_uri_user": "username",
    "sc_uri_host": "domain",
    "sc_body": "body",
    "sc_ctype": "ctype",
    "sc_exp_time": "exp_time",
    "sc_inc_time": "inc_time",
    "sc_snd_time": "snd_time",
    "from_address": None,
    "contact_hdr": None,
    "extra_hdrs": None,
    "offline_message": None,
    "content_type_hdr": None,
    "reminder": None,
    "outbound_proxy": None,
    "expire_time": 259200,
    "check_time": 30,
    "send_time": 0,
    "clean_period": 5,
    "use_contact": 1,
    "snd_time_avp": None,
    "add_date": 1,
    "max_messages": 0,
    "add_contact": 0,
    "extra_hdrs_avp": None,
    "skip_notification_flag": -1,
    "db_url": "mysql://kamailio:kamailiorw@localhost/kamailio",
}


def test_msilo_defaults_follow_seed() -> None:
    ex = exports("msilo")
    assert len(ex.params) == 32
    for name, default in SEED_DEFAULTS.items():
        assert ex.param(name).default == default, name
    assert ex.param("sc_mid").default == "id"
    assert ex.param("sc_stored_hdrs").default == "extra_hdrs"
    assert [n.name for n in ex.needs if not n.optional] == ["tm"]
    assert [s.name for s in ex.stats] == [
        "stored_messages",
        "dumped_messages",
        "failed_messages",
        "dumped_reminders",
        "failed_reminders",
    ]
    assert {t.interval_param for t in ex.timers} == {"check_time", "send_time"}


@pytest.mark.parametrize(
    ("param", "bad", "good"),
    [("check_time", 0, 1), ("clean_period", 0, 5), ("skip_notification_flag", 32, 31)],
)
def test_msilo_validators(param: str, bad: int, good: int) -> None:
    p = exports("msilo").param(param)
    with pytest.raises(ValueError, match=param):
        p.validate(bad)
    p.validate(good)


def test_msilo_functions() -> None:
    ex = exports("msilo")
    (store,) = ex.functions_named("m_store")
    (dump,) = ex.functions_named("m_dump")
    assert store.routes == RouteType.REQUEST | RouteType.FAILURE
    assert dump.routes == RouteType.REQUEST
    assert store.accepts_count(0) and store.accepts_count(1) and not store.accepts_count(2)


# --- tm


def test_tm_route_arguments() -> None:
    ex = exports("tm")
    kinds = {"t_on_failure": "failure", "t_on_reply": "onreply", "t_on_branch": "branch"}
    for name, kind in kinds.items():
        (f,) = ex.functions_named(name)
        assert [(a.kind, a.route_kind) for a in f.args] == [(ArgKind.ROUTE, kind)]
    (relay,) = ex.functions_named("t_relay")
    assert relay.accepts_count(0) and relay.accepts_count(2)
    assert relay.routes == RouteType.REQUEST | RouteType.FAILURE


def test_tm_defaults_and_rpc() -> None:
    ex = exports("tm")
    assert ex.param("fr_timer").default == 30000
    assert ex.param("fr_inv_timer").default == 120000
    assert {r.name for r in ex.rpc} == {"tm.stats", "tm.t_uac_start", "tm.t_uac_wait", "tm.t_uac_wait_block",
                                        "tm.cancel", "tm.reply", "tm.reply_callid", "tm.hash_stats",
                                        "tm.list", "tm.clean"}


def test_tmx_declaration() -> None:
    ex = exports("tmx")
    assert [n.name for n in ex.needs if not n.optional] == ["tm"]
    assert {"T_reply_code", "T_branch_idx", "T_req"} <= {p.name for p in ex.pvars}
    assert {"UAS_transactions", "rpl_relayed", "inuse_transactions"} <= {s.name for s in ex.stats}


# --- a few other Kamailio facts


def test_registrar() -> None:
    ex = exports("registrar")
    (save,) = ex.functions_named("save")
    assert (save.required, len(save.args)) == (1, 3)
    (registered,) = ex.functions_named("registered")
    assert (registered.required, len(registered.args)) == (1, 4)
    assert ex.param("default_expires").default == 3600
    assert {"accepted_regs", "rejected_regs", "max_contacts"} <= {s.name for s in ex.stats}


def test_sl_stats_and_textops() -> None:
    assert {"200_replies", "sent_replies", "failures"} <= {s.name for s in exports("sl").stats}
    (has_body,) = exports("textops").functions_named("has_body")
    assert has_body.accepts_count(0) and has_body.accepts_count(1)


def test_pv_classes_and_transforms() -> None:
    ex = exports("pv")
    pvs = {p.name: p for p in ex.pvars}
    for name in ("ru", "rU", "du", "fu", "ci", "si", "avp", "var", "xavp", "shv", "hdr"):
        assert name in pvs, name
    for name in ("ru", "rU", "du", "avp", "var", "shv"):
        assert pvs[name].writable, name
    assert not pvs["ci"].writable
    classes = {t.name: set(t.names) for t in ex.transforms}
    assert {"len", "substr", "select", "tolower"} <= classes["s"]
    assert {"user", "host", "param"} <= classes["uri"]
