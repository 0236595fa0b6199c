"""Kamailio's command line: options, daemonizing, logging set-up, starting the server."""
