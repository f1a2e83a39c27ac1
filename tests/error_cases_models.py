"""docs/errors.md rows about building models, loading model files, the command line's exits."""


def case(name, tmp_path):
    """The message row ``name`` gets, or None when the row is not one of this area's."""
    return None
