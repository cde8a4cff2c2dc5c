"""The ``rlhp`` command line, one module per group of subcommands.

- ``main``: the parser and ``main(argv)`` (the console script; one-line errors, exit 2);
- ``train``: ``train``, ``evaluate``, ``plot``;
- ``bench``: ``bench``, the resumable grid;
- ``labelling``: ``--feedback human``, ``label``, ``labels export|import``, ``reward fit``;
- ``record``: ``record``, a video of the policy.
"""

from rlhp.cli.main import main

__all__ = ["main"]
