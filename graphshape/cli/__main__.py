"""``python -m graphshape.cli``: the same command line as the ``graphshape`` script."""

from graphshape.cli import run

run()
