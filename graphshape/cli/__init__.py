"""The command line: ``app`` holds the group, the shared options and the exit table; each
command module registers its commands on that group and imports ``app``, never the reverse.

The group imports a command's module only when that command is used (app.COMMANDS);
``run`` is the script (the group, then a prompt exit)."""

from graphshape.cli.app import main, run

__all__ = ["main", "run"]
