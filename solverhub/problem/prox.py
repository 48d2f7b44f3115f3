"""Proximal operators of the atoms that have a cheap one, and the projections they use.

``prox(v, step, *constants)`` returns ``argmin_p f(p) + ||p - v||^2 / (2 step)`` for the atom's
function ``f`` -- summed over the entries for an elementwise atom (``abs``, ``pos``, ``huber``, ...),
the atom itself for a reduction (``norm1``, ``norm2``, ``norm_inf``, ``max``). ``v`` is a tensor of
any shape (the result has its shape), ``step > 0`` a float or a 0-d tensor on ``v``'s device, and
``constants`` the atom's constant arguments after ``x`` (``huber``'s ``M``). Nothing here syncs with
the host: no ``.item()``, no data-dependent Python branch.

Formulas: Parikh & Boyd, "Proximal Algorithms", Found. Trends Optim. 1(3), 2014, §6.5 (norms via
the Moreau decomposition ``v = prox_{tf}(v) + t prox_{f*/t}(v/t)``); l1-ball and simplex projections
by sorting, Duchi, Shalev-Shwartz, Singer & Chandra, ICML 2008, Fig. 1 and Fig. 2.
"""
from __future__ import annotations

__all__ = ["soft_threshold", "block_soft_threshold", "prox_norm_inf", "prox_max", "prox_pos", "prox_neg",
           "prox_huber", "prox_square", "project_l1_ball", "project_simplex"]

from .._lazy import lazy_module

torch = lazy_module("torch")


def soft_threshold(v, step):
    """prox of ``step * ||.||_1`` (and of ``abs`` summed): ``sign(v) max(|v| - step, 0)``."""
    return v - torch.clamp(v, min=-step, max=step)


def block_soft_threshold(v, step):
    """prox of ``step * ||.||_2`` over all entries: ``v max(1 - step / ||v||, 0)`` (0 at ``v = 0``)."""
    return v * torch.clamp(1 - step / torch.linalg.vector_norm(v), min=0)


def prox_norm_inf(v, step):
    """prox of ``step * ||.||_inf``: ``v - P_{step B_1}(v)`` (Moreau; the dual ball is the l1 ball)."""
    return v - project_l1_ball(v, step)


def prox_max(v, step):
    """prox of ``step * max(.)``: ``v - P_{step Δ}(v)`` (Moreau; max* is the simplex indicator)."""
    return v - project_simplex(v, step)


def prox_pos(v, step):
    """prox of ``step * max(x, 0)`` elementwise: ``v - step`` above ``step``, ``0`` on ``[0, step]``,
    ``v`` below 0."""
    return v - torch.clamp(torch.relu(v), max=step)


def prox_neg(v, step):
    """prox of ``step * max(-x, 0)`` elementwise: the mirror of :func:`prox_pos`."""
    return v + torch.clamp(torch.relu(-v), max=step)


def prox_huber(v, step, M):
    """prox of ``step * huber(x, M)`` elementwise (huber: x^2 for |x| <= M, 2M|x| - M^2 outside):
    ``v / (1 + 2 step)`` where ``|v| <= M (1 + 2 step)``, else ``v - 2 step M sign(v)``."""
    scale = 1 + 2 * step
    return torch.where(torch.abs(v) <= M * scale, v / scale, v - 2 * step * M * torch.sign(v))


def prox_square(v, step):
    """prox of ``step * x^2`` elementwise (and of ``sum_squares``): ``v / (1 + 2 step)``."""
    return v / (1 + 2 * step)


def _threshold(u, radius):
    """For ``u`` flat and sorted decreasingly: the ``theta`` with ``sum(max(u - theta, 0)) = radius``
    (Duchi et al. 2008: ``rho`` = the number of ``j`` with ``u_j > (cumsum_j - radius) / j``)."""
    css = torch.cumsum(u, 0) - radius
    j = torch.arange(1, u.numel() + 1, dtype=u.dtype, device=u.device)
    rho = (u * j > css).sum().reshape(1)                      # >= 1 whenever radius > 0
    return css.gather(0, rho - 1).reshape(()) / rho.reshape(()).to(u.dtype)


def project_l1_ball(v, radius):
    """Euclidean projection of ``v`` (all entries) onto ``{y : ||y||_1 <= radius}``, ``radius > 0``."""
    a = torch.abs(v).reshape(-1)
    theta = torch.clamp(_threshold(torch.sort(a, descending=True).values, radius), min=0)  # 0 inside
    return torch.sign(v) * torch.relu(torch.abs(v) - theta)


def project_simplex(v, radius=1.0):
    """Euclidean projection of ``v`` (all entries) onto ``{y >= 0 : sum(y) = radius}``, ``radius > 0``."""
    theta = _threshold(torch.sort(v.reshape(-1), descending=True).values, radius)
    return torch.relu(v - theta)
