"""The command line: ``app`` holds the group, the shared options and the exit table; each
command module registers its commands on that group and imports ``app``, never the reverse.

The group imports a command's module only when that command is used (app.COMMANDS)."""

from graphshape.cli.app import main

__all__ = ["main"]
