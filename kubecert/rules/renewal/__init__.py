"""Renewal on a node (KC-REN, KC-CSR, KC-CHK, KC-UPG): rules judged on the target before and after an action.

Importing this package registers every rule of the family with the catalog.
"""

from kubecert.rules.renewal import certificates, csr, listing, upgrade
from kubecert.rules.renewal.context import ActionObservation, ListingContext, RenewalContext, UpgradeContext

__all__ = [
    "ActionObservation",
    "ListingContext",
    "RenewalContext",
    "UpgradeContext",
    "certificates",
    "csr",
    "listing",
    "upgrade",
]
