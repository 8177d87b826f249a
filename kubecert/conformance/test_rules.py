"""Every check of the catalog: the kubecert plugin expands this object into one item per (rule, target)."""

from kubecert.pytest_plugin.collect import CatalogChecks

checks = CatalogChecks()
