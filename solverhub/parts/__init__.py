"""Method parts shared by several solvers, each written once: Adam's moments
(``adam``), the online-to-nonconvex conversion's episodes (``o2nc``), a line search
with one host sync per trial (``line_search``) and the Euclidean ball projection
(``projections``). Plugins reach them through :mod:`solverhub.plugin`.
"""
