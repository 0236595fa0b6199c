"""The config front-end: cfg text -> preprocessor -> Lark parse -> AST -> compile (see pipeline.py)."""
