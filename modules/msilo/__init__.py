"""msilo: offline message storage (SIP MESSAGE store and forward).

Declares Kamailio 5.6's msilo exports. Defaults follow the seed document (shared/seed/msilo.txt),
except `sc_mid`: the seed says "mid", but the code and the standard `silo` table use "id".
Kamailio's code defaults differ from the seed for check_time (code 60) and clean_period (code 10);
kampy follows the seed (30 and 5). `sc_stored_hdrs` is in the 5.6 code but not in the seed.
"""

from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Need, Param, RouteType, Stat, Timer, TmUacAPI

from .impl import MSilo, avp_spec


def _positive(name: str):
    def check(value: int) -> None:
        if value <= 0:
            raise ValueError(f"msilo: {name} must be greater than 0 (got {value})")

    return check


def _avp(name: str):
    def check(value: str | None) -> None:
        if value:
            avp_spec(name, value)

    return check


def _flag_or_off(value: int) -> None:
    if value != -1 and not 0 <= value <= 31:
        raise ValueError(
            f"msilo: skip_notification_flag must be -1 (off) or a flag from 0 to 31 (got {value})"
        )


EXPORTS = Exports(
    name="msilo",
    doc="Offline message storage (SIP MESSAGE store and forward).",
    params=(
        # --- database
        Param("db_url", (str,), "mysql://kamailio:kamailiorw@localhost/kamailio", doc="database URL"),
        Param("db_table", (str,), "silo", doc="table holding the messages"),
        # --- column names
        Param("sc_mid", (str,), "id", doc="message id column (the seed's 'mid' is wrong)"),
        Param("sc_from", (str,), "src_addr"),
        Param("sc_to", (str,), "dst_addr"),
        Param("sc_uri_user", (str,), "username"),
        Param("sc_uri_host", (str,), "domain"),
        Param("sc_body", (str,), "body"),
        Param("sc_ctype", (str,), "ctype"),
        Param("sc_exp_time", (str,), "exp_time"),
        Param("sc_inc_time", (str,), "inc_time"),
        Param("sc_snd_time", (str,), "snd_time"),
        Param("sc_stored_hdrs", (str,), "extra_hdrs", doc="column of the stored extra headers (5.6 code)"),
        Param("sc_status", (str,), "status",
              doc="column holding delivery claims (Kamailio 5.8's name; Kamailio never uses the column)"),
        # --- notices and delivered messages (may hold pseudo-variables)
        Param("from_address", (str,), None,
              doc="From URI of the 'user is offline' notice; pseudo-variables expanded per MESSAGE"),
        Param("contact_hdr", (str,), None,
              doc="header line(s) with CRLF put first in the notice; pseudo-variables expanded per MESSAGE"),
        Param("extra_hdrs", (str,), None,
              doc="header lines added to each MESSAGE m_dump sends; pseudo-variables expanded per REGISTER"),
        Param("offline_message", (str,), None,
              doc="body of the notice; pseudo-variables expanded per MESSAGE"),
        Param("content_type_hdr", (str,), None,
              doc="Content-Type line with CRLF of the notice, required with offline_message; "
                  "pseudo-variables expanded per MESSAGE"),
        Param("reminder", (str,), None, doc="From URI of reminder MESSAGEs; unset disables reminders"),
        Param("outbound_proxy", (str,), None, doc="next hop of every request msilo sends"),
        # --- times
        Param("expire_time", (int,), 259200, doc="seconds a stored message lives"),
        Param(
            "check_time",
            (int,),
            30,
            doc="period of the cleanup timer, seconds",
            validate=_positive("check_time"),
        ),
        Param("send_time", (int,), 0, doc="period of the reminder timer, seconds; 0 = off"),
        Param(
            "clean_period",
            (int,),
            5,
            doc="purge expired rows every N cleanup runs",
            validate=_positive("clean_period"),
        ),
        # --- behaviour
        Param("use_contact", (int,), 1, doc="send the notice to the MESSAGE's Contact"),
        Param("snd_time_avp", (str,), None, doc="AVP giving the reminder time YYYYMMDDHHMMSS",
              validate=_avp("snd_time_avp")),
        Param("add_date", (int,), 1, doc="prefix the body with the original date"),
        Param("max_messages", (int,), 0, doc="most stored messages per user; 0 = no limit"),
        Param("add_contact", (int,), 0, doc="add a Contact header to dumped messages"),
        Param("extra_hdrs_avp", (str,), None, doc="AVP holding extra headers to store",
              validate=_avp("extra_hdrs_avp")),
        Param(
            "skip_notification_flag",
            (int,),
            -1,
            doc="message flag that suppresses the notice; -1 = off",
            validate=_flag_or_off,
        ),
    ),
    functions=(
        Function(
            "m_store",
            args=(Arg("owner", ArgKind.FMT, doc="owner URI; default the R-URI"),),
            min_args=0,
            routes=RouteType.REQUEST | RouteType.FAILURE,
            doc="Store the current request in the silo for its owner.",
            returns="1 when stored (whatever happens to the notice), -1 on any failure",
        ),
        Function(
            "m_dump",
            args=(Arg("owner", ArgKind.FMT, doc="owner URI; default the To URI"),),
            min_args=0,
            routes=RouteType.REQUEST,
            doc="Send the stored messages of the user that registers.",
            returns="1 when the query ran (also with nothing to send), -1 on failure",
        ),
    ),
    stats=(
        Stat("stored_messages", doc="messages stored by m_store (reminders too)"),
        Stat("dumped_messages", doc="offline messages delivered (2xx)"),
        Stat("failed_messages", doc="offline message deliveries that failed"),
        Stat("dumped_reminders", doc="reminders delivered (2xx)"),
        Stat("failed_reminders", doc="reminders that failed (each became an offline message)"),
    ),
    timers=(
        Timer("clean_silo", "timer_clean", interval_param="check_time",
              doc="renew this worker's delivery claims; purge expired rows every clean_period runs (rank 1)"),
        Timer("send_reminders", "timer_send", interval_param="send_time",
              doc="send the due reminders when reminder is set (rank 1)"),
    ),
    needs=(Need("tm", TmUacAPI, doc="t_request(): the stored messages, notices and reminders msilo sends"),),
    factory=MSilo,
)
