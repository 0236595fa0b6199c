"""kampy's built-in modules, one package per Kamailio module."""
