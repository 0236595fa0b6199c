"""Name resolution: what `kampy check` reports beyond syntax."""
from __future__ import annotations

import pytest

from kampy.config.pipeline import load_text
from kampy.errors import ConfigError

HEAD = """
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "msilo.so"
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, "t.cfg")
    return [f"{d.pos.line}:{d.pos.col}: {d.message}" for d in info.value.diagnostics]


def test_valid_config_resolves_every_module_function():
    compiled = load_text(HEAD + 'request_route { if (is_method("MESSAGE")) { m_store("$ru"); } '
                                't_relay(); }', "t.cfg")
    assert {"is_method", "m_store", "t_relay"} <= compiled.functions_used
    assert set(compiled.modules) == {"tm", "sl", "pv", "textops", "msilo"}


def test_loadmodule_of_a_module_kampy_lacks_is_an_error_with_its_line():
    (err,) = errors_of('loadmodule "nosuchmod.so"\nrequest_route { exit; }')
    assert err.startswith("2:") or err.startswith("1:")
    assert "kampy has no module 'nosuchmod'" in err


def test_missing_module_suggests_the_closest_name():
    (err,) = errors_of('loadmodule "textop.so"\nrequest_route { exit; }')
    assert "did you mean 'textops'" in err


def test_old_mysql_module_name_is_not_found():
    (err,) = errors_of('loadmodule "mysql.so"\nrequest_route { exit; }')
    assert "kampy has no module 'mysql'" in err


def test_unknown_modparam_name_suggests_the_closest():
    (err,) = errors_of(HEAD + 'modparam("msilo", "expire_tim", 10)\nrequest_route { exit; }')
    assert "module 'msilo' has no parameter 'expire_tim' (did you mean 'expire_time'?)" in err


def test_modparam_value_of_the_wrong_type_is_an_error():
    (err,) = errors_of(HEAD + 'modparam("msilo", "expire_time", "ten")\nrequest_route { exit; }')
    assert "takes integer, not a string" in err


def test_modparam_validation_failure_is_reported():
    (err,) = errors_of(HEAD + 'modparam("msilo", "check_time", 0)\nrequest_route { exit; }')
    assert "bad value for 'check_time'" in err


def test_modparam_before_its_loadmodule_is_an_error():
    (err,) = errors_of('modparam("tm", "fr_timer", 10)\nloadmodule "tm.so"\nrequest_route { exit; }')
    assert "no loaded module matches" in err


def test_modparam_regex_module_name_sets_every_matching_module():
    compiled = load_text(HEAD + 'loadmodule "usrloc.so"\nloadmodule "db_sqlite.so"\n'
                         'modparam("msilo|usrloc", "db_url", "sqlite:///x.db")\nrequest_route { exit; }',
                         "t.cfg")
    assert compiled.modules["msilo"].params["db_url"] == "sqlite:///x.db"
    assert compiled.modules["usrloc"].params["db_url"] == "sqlite:///x.db"


REG_HEAD = 'loadmodule "sl.so"\nloadmodule "usrloc.so"\nloadmodule "registrar.so"\n'


def test_unimplemented_param_set_to_another_value_is_a_warning():
    compiled = load_text(REG_HEAD + 'modparam("usrloc", "load_rank", 2)\nrequest_route { exit; }',
                         "t.cfg")
    assert [(w.pos.line, w.severity, w.message) for w in compiled.warnings] == [
        (4, "warning", "parameter 'load_rank' of module 'usrloc' is ignored by kampy: kampy loads the "
                       "table into the shared store once, in the first process that registers the domain, "
                       "before any serves SIP; which process does it cannot be chosen")]


def test_unimplemented_param_set_to_its_default_is_no_warning():
    compiled = load_text(REG_HEAD + 'modparam("usrloc", "db_raw_fetch_type", 0)\nrequest_route { exit; }',
                         "t.cfg")
    assert compiled.warnings == []


def test_every_param_a_module_ignores_is_declared_not_implemented():
    # a parameter no module code reads by name (nor checks with its `validate`) is a silent stub: it
    # must be listed in not_implemented
    import importlib
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "modules"
    # parameters whose names a module builds rather than spells (rtpengine's 56 mos_*_pv)
    stats = importlib.import_module("kampy.modules.rtpengine.stats")
    built = {f"rtpengine.{name}" for name in stats.all_params()}
    silent = []
    for folder in sorted(p for p in root.iterdir() if (p / "__init__.py").is_file()):
        exports = getattr(importlib.import_module(f"kampy.modules.{folder.name}"), "EXPORTS", None)
        if exports is None:
            continue
        code = "".join(re.sub(r'Param\("[^"]+"', "", f.read_text()) if f.name == "__init__.py"
                       else f.read_text() for f in folder.glob("*.py"))
        silent += [f"{exports.name}.{p.name}" for p in exports.params
                   if p.implemented and p.validate is None and f"{exports.name}.{p.name}" not in built
                   and not re.search(rf"[\"']{re.escape(p.name)}[\"']", code)]
    assert silent == []


def test_unknown_function_suggests_the_closest_names():
    (err,) = errors_of(HEAD + "request_route { t_rely(); }")
    assert "unknown function 't_rely' (did you mean 't_relay' or 't_reply'?)" in err


def test_function_of_a_module_not_loaded_names_the_module():
    (err,) = errors_of(HEAD + 'request_route { save("location"); }')
    assert "save() is exported by module 'registrar', which is not loaded" in err


def test_wrong_argument_count_is_an_error():
    (err,) = errors_of(HEAD + 'request_route { m_store("a", "b"); }')
    assert "m_store() takes 0 or 1 arguments, 2 given" in err


def test_function_not_allowed_in_the_route_type_is_an_error():
    (err,) = errors_of(HEAD + 'request_route { exit; }\nonreply_route[r] { m_store(); }')
    assert "m_store() cannot be used in onreply_route" in err


def test_function_used_in_event_route_follows_kamailio_request_rule():
    load_text(HEAD + 'event_route[tm:local-request] { is_method("MESSAGE"); }', "t.cfg")


def test_route_call_to_a_missing_route_is_an_error():
    (err,) = errors_of(HEAD + "request_route { route(AUTH); }\nroute[AUTHX] { return; }")
    assert "route(AUTH): there is no route[AUTH]" in err


def test_t_on_failure_to_a_missing_failure_route_is_an_error():
    (err,) = errors_of(HEAD + 'request_route { t_on_failure("MISSING"); t_relay(); }')
    assert "there is no failure_route[MISSING]" in err


def test_t_on_failure_finds_a_numbered_failure_route():
    load_text(HEAD + 'request_route { t_on_failure("1"); t_relay(); }\nfailure_route[1] { exit; }', "t.cfg")


def test_duplicate_route_block_is_an_error():
    (err,) = errors_of(HEAD + "request_route { exit; }\nroute[A] { return; }\nroute[A] { return; }")
    assert "duplicate route[A]" in err


def test_unknown_pseudo_variable_suggests_the_closest():
    (err,) = errors_of(HEAD + "request_route { $var(x) = $rUU; }")
    assert "unknown pseudo-variable '$rUU'" in err


def test_unknown_pseudo_variable_inside_a_format_string_is_found():
    (err,) = errors_of(HEAD + 'request_route { m_store("sip:$nosuchpv@x"); }')
    assert "unknown pseudo-variable '$nosuchpv'" in err


def test_pseudo_variables_need_the_pv_module():
    (err,) = errors_of('loadmodule "sl.so"\nrequest_route { if ($rU == "a") { exit; } }')
    assert "unknown pseudo-variable '$rU'" in err


def test_unknown_transformation_is_an_error():
    (err,) = errors_of(HEAD + "request_route { $var(x) = $(ru{uri.usr}); }")
    assert "unknown transformation '{uri.usr}' (did you mean 'user'?)" in err


def test_assigning_a_read_only_pseudo_variable_is_an_error():
    (err,) = errors_of(HEAD + 'request_route { $rm = "INVITE"; }')
    assert "$rm is read-only" in err


def test_unknown_core_parameter_suggests_the_closest():
    (err,) = errors_of("chidren=4\n" + HEAD + "request_route { exit; }")
    assert "unknown core parameter 'chidren' (did you mean 'children'?)" in err


def test_every_error_is_reported_not_just_the_first():
    errs = errors_of(HEAD + "request_route { t_rely(); nosuch(); route(NOPE); }")
    assert len(errs) == 3


def test_syntax_only_skips_name_resolution():
    load_text('loadmodule "nosuchmod.so"\nrequest_route { nosuch(); }', "t.cfg", resolve=False)


def test_a_select_a_module_does_not_have_is_an_error_at_its_line():
    errors = errors_of(HEAD + 'loadmodule "xlog.so"\nrequest_route {\n  if (@tm.uac.cuont == "1") { exit; }\n'
                              '  xlog("$sel(tm.uas)");\n}\n')
    assert errors == ["9:7: bad select @tm.uac.cuont: Unable to resolve select 'cuont' at level 2",
                      "10:8: bad select tm.uas: Unable to resolve select '' at level 2"]


def test_a_select_a_module_has_passes_the_check():
    compiled = load_text(HEAD + 'request_route { if (@tm.uac[1].status == "486") { exit; } }', "t.cfg")
    assert "tm" in compiled.modules
