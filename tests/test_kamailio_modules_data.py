"""kampy/config/kamailio_modules.json, what kampy check --allow-missing and the testing plugin's
stand-ins know of Kamailio 5.6's modules, is what scripts/gen_kamailio_modules.py makes of the
module manifests in tests/data/kamailio-modules: regenerated here, it must not differ."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kampy.config import kamailio_modules
from kampy.module import RouteType

REPO = Path(__file__).resolve().parent.parent


def test_the_committed_data_is_what_the_manifests_make(tmp_path: Path) -> None:
    out = tmp_path / "kamailio_modules.json"
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_kamailio_modules.py"), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_text() == kamailio_modules.DATA.read_text(), \
        "run python3 scripts/gen_kamailio_modules.py and commit kampy/config/kamailio_modules.json"


def test_a_module_as_kampy_reads_it() -> None:
    htable = kamailio_modules.module("htable")

    assert htable.params["htable"] == (str,) and htable.params["timer_interval"] == (int,)
    assert htable.functions["sht_rm"].counts == (2,) and htable.functions["sht_rm"].routes == RouteType.ANY
    assert htable.pvars["sht"].takes_name and htable.pvars["sht"].writable
    assert not htable.pvars["shtcn"].writable
    assert "host" in kamailio_modules.module("corex").transforms["sock"]
    assert kamailio_modules.module("no_such_module") is None
    assert len(kamailio_modules.names()) == 247
