"""Problems: the YAML schema, the expression language, data sources and kinds."""
__all__ = ["load_problem", "Problem"]


def __getattr__(name):
    if name in __all__:
        from . import model
        return getattr(model, name)
    raise AttributeError(name)
