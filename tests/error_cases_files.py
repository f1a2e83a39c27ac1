"""docs/errors.md rows about user text in generated files, user files, generated code at run time."""


def case(name, tmp_path):
    """The message row ``name`` gets, or None when the row is not one of this area's."""
    return None
