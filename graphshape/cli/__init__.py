"""The command line: ``app`` holds the group, the shared options and the exit table; each
command module registers its commands on that group and imports ``app``, never the reverse."""

from graphshape.cli import (  # noqa: F401  (register commands)
    commands,
    deploy,
    fleet,
    relax,
    reports,
)
from graphshape.cli.app import main

__all__ = ["main"]
