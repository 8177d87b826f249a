"""The conformance suite: every implemented rule of the catalog, one check per (rule, target) it concerns.

Run it with ``kubecert check`` or ``pytest --pyargs kubecert.conformance --kubecert-target URI``. The checks
are generated from kubecert/rules/catalog.toml by the kubecert plugin (kubecert/pytest_plugin/collect.py);
there is no code per rule here.
"""
