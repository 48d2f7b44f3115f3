"""The run's seed draws the start when the file fixes none (x0 generators without a seed, a model
kind's unset start seed, training without init_seed); a file-fixed seed wins; ``deterministic``."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

import solverhub
from solverhub.problem.kinds.base import field_given
from solverhub.registry import get_registry
from solverhub.testing import tiny_problem

UNSEEDED = """
name: seeded-start
kind: minimize
variables:
  x: {shape: [4], x0: {generate: normal}}
  z: {shape: [2], x0: 0.5}
objective: "sum_squares(x) + sum_squares(z)"
"""

MODEL_KINDS = ("mixture_of_experts", "lora_meta", "latent_prior", "matrix_factorization", "lora_finetune")


def _start(problem, seed):
    return problem.lower_torch("cpu", torch.float64, seed=seed).x0.numpy()


def _fix_seed(text: str, path: tuple[str, ...], value: int = 0) -> str:
    """The YAML ``text`` with the key at ``path`` set to ``value`` (the file fixing its start seed)."""
    raw = yaml.safe_load(text)
    node = raw
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return yaml.safe_dump(raw)


def test_x0_generator_without_seed_is_drawn_from_the_run_seed():
    p = solverhub.load_problem(UNSEEDED)
    assert p.start_depends_on_seed
    a, b, a_again = _start(p, 1), _start(p, 2), _start(p, 1)
    assert not np.allclose(a[:4], b[:4]) and np.array_equal(a, a_again)
    assert np.array_equal(a[4:], [0.5, 0.5]) and np.array_equal(b[4:], [0.5, 0.5])   # the constant part stays
    # the run seed is the generator's seed: seed 0 gives what {generate: normal, seed: 0} gives
    fixed0 = solverhub.load_problem(UNSEEDED.replace("{generate: normal}", "{generate: normal, seed: 0}"))
    assert np.array_equal(_start(p, 0), fixed0.x0)


def test_a_generator_with_its_own_seed_wins_and_the_run_is_deterministic():
    p = solverhub.load_problem(UNSEEDED.replace("{generate: normal}", "{generate: normal, seed: 7}"))
    assert not p.start_depends_on_seed
    assert np.array_equal(_start(p, 1), _start(p, 2))
    r1, r2 = (solverhub.solve(p, "gd", options={"max_iterations": 3}, seed=s) for s in (1, 2))
    assert r1.extras["deterministic"] is True and r1.solution == r2.solution


def test_solve_starts_where_the_seed_says():
    p = solverhub.load_problem(UNSEEDED)
    starts = [solverhub.solve(p, "gd", options={"max_iterations": 0}, seed=s) for s in (1, 2)]
    assert starts[0].solution["x"] != starts[1].solution["x"]
    assert np.allclose(starts[0].solution["x"], _start(p, 1)[:4], atol=0)
    assert starts[0].extras["deterministic"] is False          # the seed draws the start


def test_stochastic_oracle_is_not_deterministic():
    p = solverhub.load_problem("""
name: noisy
kind: minimize
variables: {x: {shape: [3], x0: 1.0}}
objective: "sum_squares(x)"
oracle: {noise: {sigma: 0.1, seed: 0}}
""")
    assert solverhub.solve(p, "gd", options={"max_iterations": 2, "lr": 0.1}).extras["deterministic"] is False


def test_training_init_from_the_run_seed_unless_init_seed_is_set():
    text = get_registry().kinds["training"].tiny_problem
    p = solverhub.load_problem(text)
    assert p.start_depends_on_seed
    a, b = _start(p, 1), _start(p, 2)
    assert a.shape == b.shape and not np.allclose(a, b)
    assert np.array_equal(_start(p, 0), p.sections.model.x0)      # seed 0 = init_seed 0 (the default)
    fixed = solverhub.load_problem(text + "init_seed: 3\n")
    assert not fixed.start_depends_on_seed
    assert np.array_equal(_start(fixed, 1), _start(fixed, 2))


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_model_kind_start_follows_the_run_seed_unless_the_file_fixes_it(kind):
    cls = get_registry().kinds[kind]
    assert cls.start_seed is not None, f"{kind} names no start seed"
    p = tiny_problem(kind)
    assert p.start_depends_on_seed
    a, b = _start(p, 1), _start(p, 2)
    assert a.shape == b.shape and not np.allclose(a, b)
    assert np.array_equal(_start(p, 1), a)
    fixed = solverhub.load_problem(_fix_seed(cls.tiny_problem, cls.start_seed, 0))
    assert not fixed.start_depends_on_seed
    assert np.array_equal(_start(fixed, 1), _start(fixed, 2))
    assert np.array_equal(_start(fixed, 1), _start(p, 0))        # run seed 0 = the default file seed 0


def test_unlearning_start_is_the_trained_model_for_every_seed():
    p = tiny_problem("unlearning")
    assert not p.start_depends_on_seed
    assert np.array_equal(_start(p, 1), _start(p, 2))


def test_field_given_reads_what_the_file_set():
    from pydantic import BaseModel

    class Init(BaseModel):
        seed: int = 0

    class Sections(BaseModel):
        init: Init = Init()

    assert not field_given(Sections(), ("init", "seed"))
    assert not field_given(Sections(init={}), ("init", "seed"))
    assert field_given(Sections(init={"seed": 0}), ("init", "seed"))


def test_a_solver_that_draws_from_the_seeded_generators_is_not_deterministic():
    from solverhub.solver import IterState, Solver

    class RandomDirection(Solver):
        name, kinds = "random-direction", ("minimize",)
        draw_from = "oracle"

        def init(self, problem, oracle, x0, options):
            return IterState(x=x0)

        def step(self, state, oracle, options):
            gen = oracle.generator if self.draw_from == "oracle" else None    # None: torch's global one
            d = torch.randn(state.x.shape, generator=gen, dtype=state.x.dtype)
            return IterState(x=state.x - 0.01 * d)

    class GlobalDraw(RandomDirection):
        draw_from = "global"

    p = solverhub.load_problem(UNSEEDED.replace("{generate: normal}", "{generate: normal, seed: 7}"))
    for cls in (RandomDirection, GlobalDraw):
        r1, r2 = (solverhub.solve(p, cls, options={"max_iterations": 2}, seed=s) for s in (1, 2))
        assert r1.extras["deterministic"] is False and r1.solution != r2.solution
