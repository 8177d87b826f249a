"""The conformance suite: one thin check per rule, grouped by family.

Run it with ``kubecert check`` or ``pytest --pyargs kubecert.conformance --kubecert-target URI``.
"""
