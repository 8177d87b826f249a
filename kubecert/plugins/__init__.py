"""The pytest plugin: options, target parametrization, the disruptive gate and report hooks."""
