"""Built-in connectors, one folder each; registered as `accord.sources` entry points."""
