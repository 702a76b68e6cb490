"""Built-in destinations, one folder each; registered as entry points in pyproject.toml."""
