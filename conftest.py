"""The kit's fixtures (single_thread, make_oracle, drive, count_host_syncs, write_problem,
run_cli) come from solverhub.testing, a pytest plugin by its pytest11 entry point; it is
registered here too when autoloading is off."""


def pytest_configure(config):
    import solverhub.testing
    if not config.pluginmanager.is_registered(solverhub.testing):   # PYTEST_DISABLE_PLUGIN_AUTOLOAD=1
        config.pluginmanager.register(solverhub.testing, "solverhub.testing")
