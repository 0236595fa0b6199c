"""Holds kamailio.lark, the grammar of the Kamailio configuration language."""
