"""Test a kamailio.cfg with pytest: load it in-process, send SIP in, see what it did.

The pytest plugin (`kampy.testing.plugin`, registered as `kampy` in the `pytest11` entry point
group) gives the `kampy_cfg` fixture; `Harness` is the same thing without pytest. See
docs/testing-your-cfg.md.
"""
from kampy.testing.clock import FakeClock
from kampy.testing.db import Table, Tables
from kampy.testing.dialog import Dialog, DialogError, DialogState
from kampy.testing.harness import DEFAULT_FROM, DEFAULT_SOURCE, Harness, MessageLoop
from kampy.testing.messages import Sent, raw_message
from kampy.testing.result import Call, Result, Status
from kampy.testing.context import StandInContext
from kampy.testing.standins import ModuleStandIn, StandInError, StandInModule, stand_in
from kampy.testing.messages import NEVER, Answer
from kampy.testing.ua import UserAgent
from kampy.testing.udppeer import UdpPeer

__all__ = [
    "Answer", "Call", "DEFAULT_FROM", "DEFAULT_SOURCE", "Dialog", "DialogError", "DialogState", "FakeClock",
    "Harness", "MessageLoop", "NEVER", "Result", "Sent", "StandInError", "Status", "Table", "Tables",
    "UdpPeer", "UserAgent", "raw_message", "ModuleStandIn", "StandInContext", "StandInModule", "stand_in",
]
