"""Shared test helpers: write a problem file, run the CLI in-process. The kit's fixtures
(single_thread, make_oracle, drive, count_host_syncs) come from solverhub.testing, a pytest
plugin by its pytest11 entry point; registered here too when autoloading is off."""
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


def pytest_configure(config):
    import solverhub.testing
    if not config.pluginmanager.is_registered(solverhub.testing):   # PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
        config.pluginmanager.register(solverhub.testing, "solverhub.testing")
