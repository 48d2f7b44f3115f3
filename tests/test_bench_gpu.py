"""benchmarks/bench_gpu.py --small runs on CPU (d = 10^5) and prints its table: the columns, one row
per first-order method, adam's step without host syncs, the compare line's fallback without CUDA.
The timings themselves are not checked (they are the benchmark's output)."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_gpu():
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "benchmarks" / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_run_prints_the_table_with_every_first_order_method(bench_gpu, capsys, monkeypatch):
    import torch

    from solverhub.problem.data import DEFAULT_MAX_ELEMENTS, max_elements
    # the benchmark raises the element cap in os.environ for its large sizes: never lowers it,
    # and the change ends with this test (monkeypatch restores the variable's absence)
    monkeypatch.setenv("SOLVERHUB_MAX_ELEMENTS", str(DEFAULT_MAX_ELEMENTS))
    if torch.cuda.is_available():
        pytest.skip("the --small table is the CPU one; on a GPU machine run the benchmark itself")
    bench_gpu.main(["--small", "--min-s", "0.005", "--max-steps", "4", "--counted", "2"])
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(" | ".join(bench_gpu.COLUMNS))
    rows = [line.split(" | ") for line in lines[header + 1:] if " | " in line]
    assert all(len(r) == len(bench_gpu.COLUMNS) for r in rows), rows
    by_method = {r[0]: dict(zip(bench_gpu.COLUMNS, r)) for r in rows}
    assert {"gd", "adam", "proxgrad", "fista"} <= set(by_method), sorted(by_method)
    assert set(by_method) - {"gd", "adam", "proxgrad", "fista"}, "no plugin first-order method was measured"
    assert not set(by_method) & bench_gpu.NOT_FIRST_ORDER
    for row in by_method.values():
        assert row["d"] == "1e+05" and row["device"] == "cpu" and row["ratio"].endswith("x")
        assert float(row["step ms"]) > 0 and float(row["plain ms"]) > 0 and float(row["calls/step"]) >= 1
    assert float(by_method["adam"]["syncs/step"]) == 0      # parts/adam: no host sync in a step
    assert any(line.startswith("worst ratio") and "goal <= 1.2x" in line for line in lines)
    assert "compare --device cuda: skipped (no CUDA device)" in lines
    assert max_elements() == DEFAULT_MAX_ELEMENTS          # d = 1e5 needs no more than the default cap
