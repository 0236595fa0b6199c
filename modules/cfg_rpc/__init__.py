"""cfg_rpc: the RPC interface of the cfg framework (`cfg.set_now_int`, `cfg.get`, `cfg.list`, ...)."""

from __future__ import annotations

from kampy.api import Exports, RpcMethod

from .impl import CfgRpc

SET_NOW = "Set the value of a configuration variable and commit the change immediately"
SET_DELAYED = "Prepare the change of a configuration variable, but does not commit the new value yet"

EXPORTS = Exports(
    name="cfg_rpc",
    doc="The RPC interface of the cfg framework: reads, changes (at once or prepared and committed "
        "together), lists and documents the configuration variables of the core, of the modules and "
        "of the config (`group.var = value desc \"...\"`), and adds or deletes group instances.",
    rpc=(
        RpcMethod("cfg.set", "rpc_set", doc=SET_NOW),
        RpcMethod("cfg.set_now_int", "rpc_set_now_int", doc=SET_NOW),
        RpcMethod("cfg.seti", "rpc_set_now_int", doc=SET_NOW),
        RpcMethod("cfg.set_now_string", "rpc_set_now_string", doc=SET_NOW),
        RpcMethod("cfg.sets", "rpc_set_now_string", doc=SET_NOW),
        RpcMethod("cfg.del", "rpc_del",
                  doc="Delete the value of a configuration variable from a group instance and commit "
                      "the change immediately"),
        RpcMethod("cfg.set_delayed", "rpc_set_delayed", doc=SET_DELAYED),
        RpcMethod("cfg.set_delayed_int", "rpc_set_delayed_int", doc=SET_DELAYED),
        RpcMethod("cfg.set_delayed_string", "rpc_set_delayed_string", doc=SET_DELAYED),
        RpcMethod("cfg.del_delayed", "rpc_del_delayed",
                  doc="Prepare the deletion of the value of a configuration variable from a group "
                      "instance, but does not commit the change yet"),
        RpcMethod("cfg.commit", "rpc_commit", doc="Commit the previously prepared configuration changes"),
        RpcMethod("cfg.rollback", "rpc_rollback", doc="Drop the prepared configuration changes"),
        RpcMethod("cfg.get", "rpc_get", doc="Get the value of a configuration variable",
                  params_fault=(500, "Failed to get the parameters")),
        RpcMethod("cfg.reset", "rpc_reset",
                  doc="Reset all the values of a configuration group and commit the change immediately"),
        RpcMethod("cfg.help", "rpc_help", doc="Print the description of a configuration variable"),
        RpcMethod("cfg.list", "rpc_list", doc="List the configuration variables", array=True),
        RpcMethod("cfg.diff", "rpc_diff",
                  doc="List the pending configuration changes that have not been committed yet"),
        RpcMethod("cfg.add_group_inst", "rpc_add_group_inst",
                  doc="Add a new instance to an existing configuration group"),
        RpcMethod("cfg.del_group_inst", "rpc_del_group_inst",
                  doc="Delete an instance of a configuration group"),
    ),
    factory=CfgRpc,
)
