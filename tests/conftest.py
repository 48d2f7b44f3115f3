"""Shared test helpers: write a problem file, run the CLI in-process."""
import textwrap

import pytest
from click.testing import CliRunner

from solverhub.cli import main


@pytest.fixture
def write_problem(tmp_path):
    """``write_problem(yaml_text, name="p.yaml")`` -> path of the (dedented) file in ``tmp_path``."""
    def write(text: str, name: str = "p.yaml"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path
    return write


def _run_cli(*args, env=None):
    """Run ``solverhub ARGS`` in-process; exceptions other than SystemExit propagate (= a traceback)."""
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def run_cli():
    """``run_cli(*args)`` -> click Result with ``exit_code``, ``stdout``, ``stderr``."""
    return _run_cli
