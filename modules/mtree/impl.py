"""The mtree module: trees loaded from the database, shared by every process, matched by
mt_match() and the mtree.* RPC methods.

The rows of every tree live in a shared table (`mtree`), one entry per tree with a generation:
a load (at start, or mtree.reload in whichever process serves the RPC) writes them there, and
each process builds its trie again when it sees a new generation, as Kamailio's processes all
see the trees in shared memory."""
from __future__ import annotations

import json
import time
from typing import Any

from kampy.api import (L_ERR, L_INFO, CoreAPI, DBError, MessageContext, Module, RpcFault, avp_add,
                       avp_del, db_connect, log_at, module_logger, parse_pv)

from .tree import TYPE_DW, TYPE_INT, TYPE_STR, Tree, TreeError, TreeSpec, parse_spec

log = module_logger("mtree")
ALL_TREES = b"*"  # the entry of the trees loaded from db_table (their names come from the rows)


class MtreeModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        p = params
        self.db_url: str = p["db_url"]
        self.db_table: str = p["db_table"] or ""
        self.columns = (p["tname_column"], p["tprefix_column"], p["tvalue_column"])
        self.chars: str = p["char_list"]
        self.fetch_rows: int = p["fetch_rows"]
        self.default_type: int = p["mt_tree_type"]
        self.ignore_duplicates = bool(p["mt_ignore_duplicates"])
        self.allow_duplicates = bool(p["mt_allow_duplicates"])
        self.pv_value = core.pv_accessor(p["pv_value"])
        self.avp_values = _avp_name(p["pv_values"], "pv_values")
        self.avp_dstid = _avp_name(p["pv_dstid"], "pv_dstid")
        self.avp_weight = _avp_name(p["pv_weight"], "pv_weight")
        self.pv_count = core.pv_accessor(p["pv_count"])
        specs = p["mtree"]
        self.specs: dict[str, TreeSpec] = {}
        for text in specs if isinstance(specs, list | tuple) else ([specs] if specs else []):
            spec = parse_spec(str(text))
            if spec.name in self.specs:
                raise ValueError(f"mtree: duplicate tree with name [{spec.name}]")
            self.specs[spec.name] = spec
        self.trees: dict[str, Tree] = {}
        self._generations: dict[bytes, int] = {}
        table = self._table()
        if table.get(ALL_TREES) is None and not any(table.get(s.encode()) for s in self.specs):
            try:
                self.load(None)
            except (TreeError, DBError) as exc:
                raise ValueError(f"mtree: cannot load the trees: {exc}") from None

    def _table(self) -> Any:
        return self.core.shared.table("mtree", capacity=4096)

    # ------------------------------------------------------------ loading

    def _rows(self, db: Any, spec: TreeSpec) -> list[tuple[str, str]]:
        cols = list(spec.cols) if spec.cols else [self.columns[1], self.columns[2]]
        where = (self.columns[0], spec.name) if spec.multi else None
        rows = self._fetch(db, spec.dbtable, cols, where)
        out = []
        for row in rows:
            if row[0] is None or any(v is None for v in row[1:]):
                continue
            prefix = str(row[0])
            value = ",".join(str(v) for v in row[1:])
            if prefix and value:
                out.append((prefix, value))
        return out

    def _fetch(self, db: Any, table: str, cols: list[str], where: tuple[str, str] | None) -> list[Any]:
        """The rows, read fetch_rows at a time (as Kamailio's db fetch_result() steps), in the
        order of the first column."""
        d = db.dialect
        head = f"SELECT {', '.join(d.ident(c) for c in cols)} FROM {d.ident(table)}"
        params: list[Any] = []
        if where is not None:
            head += f" WHERE {d.ident(where[0])} = {d.placeholder}"
            params.append(where[1])
        head += f" ORDER BY {d.ident(cols[0])}"
        if self.fetch_rows <= 0:
            return list(db.raw_query(head, params))
        rows: list[Any] = []
        while True:
            page = db.raw_query(f"{head} LIMIT {d.placeholder} OFFSET {d.placeholder}",
                                [*params, self.fetch_rows, len(rows)])
            rows.extend(page)
            if len(page) < self.fetch_rows:
                return rows

    def load(self, name: str | None) -> int:
        """Read the trees (all, or those whose name starts with `name`) and publish them; the
        number of trees loaded. Raises TreeError/DBError, leaving what was published before."""
        db = db_connect(self.db_url)
        try:
            if self.db_table:
                return self._load_table(db)
            loaded: dict[bytes, str] = {}
            for spec in self.specs.values():
                if name is not None and not spec.name.startswith(name):
                    continue
                tree = Tree(spec.name, spec.type, self.chars)
                rows = self._rows(db, spec)
                for prefix, value in rows:
                    tree.add(prefix, value, self.ignore_duplicates, self.allow_duplicates)
                loaded[spec.name.encode()] = json.dumps({"type": spec.type, "rows": rows})
        finally:
            db.close()
        self._publish(loaded)
        return len(loaded)

    def _load_table(self, db: Any) -> int:
        rows = self._fetch(db, self.db_table, list(self.columns), None)
        trees: dict[str, list[tuple[str, str]]] = {}
        for tname, prefix, value in rows:
            if not tname or not prefix or not value:
                continue
            trees.setdefault(str(tname), []).append((str(prefix), str(value)))
        for tname, items in trees.items():
            tree = Tree(tname, self.default_type, self.chars)
            for prefix, value in items:
                tree.add(prefix, value, self.ignore_duplicates, self.allow_duplicates)
        self._publish({ALL_TREES: json.dumps({"type": self.default_type, "trees": trees})})
        return len(trees)

    def _publish(self, entries: dict[bytes, str]) -> None:
        table = self._table()
        with table.transaction():
            for key, text in entries.items():
                old = table.get(key)
                table.put(key, text.encode(), extra=(old[1] if old else 0) + 1)

    def _current(self) -> dict[str, Tree]:
        """The trees as last published, rebuilt here when a generation moved."""
        table = self._table()
        keys = [ALL_TREES] if self.db_table else [s.encode() for s in self.specs]
        changed = False
        for key in keys:
            entry = table.get(key)
            if entry is not None and entry[1] != self._generations.get(key):
                self._generations[key] = entry[1]
                self._rebuild(key, json.loads(entry[0]))
                changed = True
        if changed:
            self.trees = dict(sorted(self.trees.items()))
        return self.trees

    def _rebuild(self, key: bytes, data: dict[str, Any]) -> None:
        now, generation = int(time.time()), self._generations[key]
        groups = data["trees"] if key == ALL_TREES else {key.decode(): data["rows"]}
        if key == ALL_TREES:
            self.trees = {}
        for name, rows in groups.items():
            tree = Tree(name, data["type"], self.chars, reload_count=generation - 1, reload_time=now)
            for prefix, value in rows:
                tree.add(prefix, value, self.ignore_duplicates, self.allow_duplicates)
            self.trees[name] = tree

    # ------------------------------------------------------------ mt_match

    def mt_match(self, ctx: MessageContext, mtree: str, pv: str, mode: int) -> int:
        tree = self._current().get(mtree)
        if tree is None:
            return -1
        if tree.type in (TYPE_STR, TYPE_INT):
            if mode == 2:
                return self._all_values(ctx, tree, pv)
            value = tree.longest(pv)
            if value is None:
                return -1
            self.pv_value.set(ctx, value)  # type: ignore[attr-defined]
            return 1
        if tree.type != TYPE_DW:
            return -1
        pairs = tree.destinations(pv)
        if pairs is None:
            log_at(log, L_ERR, "invalid char in [%s]", pv)
            return -1
        if not pairs:
            return -1
        for dstid, weight in pairs:
            if dstid != 0:
                avp_add(ctx, self.avp_weight, weight)
                avp_add(ctx, self.avp_dstid, dstid)
        self.pv_count.set(ctx, len(pairs))  # type: ignore[attr-defined]
        return 1

    def _all_values(self, ctx: MessageContext, tree: Tree, tomatch: str) -> int:
        avp_del(ctx, self.avp_values)
        found, bad = tree.walk(tomatch)
        if bad:
            log_at(log, L_ERR, "invalid char in [%s]", tomatch)
            return -1
        for _, values in found:
            for value in values:
                avp_add(ctx, self.avp_values, value)
        return 1 if found else -1

    # ------------------------------------------------------------ RPC

    def _need_trees(self, text: str) -> dict[str, Tree]:
        trees = self._current()
        if not trees and not self.specs:
            raise RpcFault(500, text)
        return trees

    def rpc_list(self, tname: str | None = None) -> list[dict[str, Any]]:
        trees = self._need_trees("Empty tree list.")
        out: list[dict[str, Any]] = []
        for name, tree in trees.items():
            if tname is None or name.startswith(tname):
                for prefix, values in tree.ordered():
                    out.append({"tname": name, "tprefix": prefix, "tvalue": list(values)})
        return out

    def rpc_summary(self, tname: str | None = None) -> list[dict[str, Any]]:
        trees = self._need_trees("Empty tree list")
        out = []
        for name, tree in trees.items():
            if tname is None or name.startswith(tname):
                out.append({"table": name, "item": {
                    "ttype": tree.type, "memsize": 0, "nrnodes": tree.nodes(), "nritems": tree.items(),
                    "reload_count": tree.reload_count, "reload_time": tree.reload_time}})
        if not out:
            raise RpcFault(404, "Tree not found")
        return out

    def rpc_reload(self, tname: str | None = None) -> str:
        if not self.db_table and not self.specs:
            raise RpcFault(500, "No Mtrees defined.")
        name = None if tname in (None, "", ".") else tname
        try:
            loaded = self.load(name)
        except (TreeError, DBError) as exc:
            log_at(log, L_ERR, "RPC failed: cannot reload mtrees from database: %s", exc)
            raise RpcFault(500, "Can not reload Mtrees from database." if self.db_table
                           else "Mtree Reload Failed") from None
        if self.db_table:
            return "Ok. Mtrees reloaded."
        if loaded == 0:
            raise RpcFault(500, "Can not find specified Mtree")
        log_at(log, L_INFO, "mtree reloaded: %s", name or "all")
        return "Ok. Mtree reloaded."

    def rpc_match(self, tname: str, prefix: str, mode: int) -> list[Any]:
        trees = self._need_trees("Empty tree list.")
        if mode not in (0, 2):
            raise RpcFault(500, "Invalid parameter 'mode'")
        tree = trees.get(tname)
        if tree is None:
            raise RpcFault(404, "Tree not found")
        found, bad, depth = tree.walk_depth(prefix)
        out: list[Any] = [tname]
        if tree.type == TYPE_DW:
            pairs = tree.destinations(prefix) or []
            out += [{"PREFIX": prefix[:depth], "WEIGHT": w, "DSTID": d} for d, w in pairs if d]
        elif mode == 2:
            out += [{"PREFIX": p, "TVALUE": v} for p, values in found for v in values]
        elif found and not bad:
            out.append({"PREFIX": prefix[:depth], "TVALUE": found[-1][1][0]})
        if bad or len(out) == 1:
            raise RpcFault(404, "Prefix not found")
        return out


def _avp_name(spec: str, param: str) -> str:
    pv = parse_pv(spec)
    if pv.cls != "avp" or not pv.arg:
        raise ValueError(f"mtree: {param} must be an AVP ($avp(name)), not {spec!r}")
    return pv.arg
