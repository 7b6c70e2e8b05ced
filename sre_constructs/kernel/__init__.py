"""The kernel every service builds on: component, chart sources, tree writer, validation, errors."""
