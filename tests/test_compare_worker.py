"""A compare worker's per-run cost: the torch lowering reused across seeds (``api._lower``) without
changing any run, and tiny runs sent to a worker in chunks (``bench/pool.py``) that record exactly
what one-at-a-time runs record."""
import math

import solverhub
from solverhub.api import _lower, _solve_here
from solverhub.bench.codec import decode_result
from solverhub.bench.tasks import RunTask, run_task

FIXED = """name: fixed-start
kind: minimize
variables: {x: {shape: [3], x0: [1.0, -1.0, 2.0]}}
objective: "sum_squares(x - 1) + 0.1 * sum_squares(x)"
"""
DRAWN = """name: drawn-start
kind: minimize
variables: {x: {shape: [3], x0: {generate: normal}}}
objective: "sum_squares(x - 1) + 0.1 * sum_squares(x)"
"""


def test_lowering_is_reused_across_seeds_only_when_the_seed_draws_no_start():
    import torch
    fixed, drawn = solverhub.load_problem(FIXED), solverhub.load_problem(DRAWN)
    cache: dict = {}
    assert _lower(fixed, "cpu", torch.float64, 0, cache) is _lower(fixed, "cpu", torch.float64, 1, cache)
    assert _lower(fixed, "cpu", torch.float32, 0, cache) is not _lower(fixed, "cpu", torch.float64, 0, cache)
    a, b = _lower(drawn, "cpu", torch.float64, 0, cache), _lower(drawn, "cpu", torch.float64, 1, cache)
    assert a is not b and not torch.equal(a.x0, b.x0)          # each seed its own start
    assert len(cache) == 2                                      # the drawn problem is never cached


def test_a_worker_run_with_the_cached_lowering_is_the_plain_solve():
    for text in (FIXED, DRAWN):
        problem = solverhub.load_problem(text)
        for seed in (0, 1, 0):
            task = RunTask(key=f"k{seed}", problem_path="", problem_name=problem.name,
                           problem_hash=problem.content_hash, solver="gd", seed=seed,
                           options={"max_iterations": 30})
            got = decode_result(run_task(task, problems={problem.content_hash: problem}, max_threads=1))
            want = _solve_here(problem, "gd", options={"max_iterations": 30}, device="cpu", dtype="float64",
                               seed=seed, baseline=False)
            assert got.iterations == want.iterations and got.status == want.status
            assert math.isclose(got.objective, want.objective, rel_tol=1e-12, abs_tol=1e-15)
            assert got.solution == want.solution
