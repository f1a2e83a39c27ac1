"""Models written from the README alone, none from the catalogue or the zoo (tests/test_outside_models.py)."""
