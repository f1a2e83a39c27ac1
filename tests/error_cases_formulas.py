"""docs/errors.md rows about symgrad check: formulas, their limits and diagnoses."""


def case(name, tmp_path):
    """The message row ``name`` gets, or None when the row is not one of this area's."""
    return None
