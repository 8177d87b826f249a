"""kubecert as a pytest plugin: options, checks generated from the catalog, the gates, the reports.

The entry point is ``plugin.py`` (registered under ``pytest11``); the hooks kubecert adds are declared in
``hookspecs.py``. Nothing here is imported by ``kubecert --help``.
"""
