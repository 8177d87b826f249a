"""KC-RPV: renewals (KC-RPV-01..09, renew.py; KC-RPV-11, in_place.py) and upgrades (KC-RPV-10, upgrade.py) through
the management API, each judged on the recorded timeline of what was requested; expiries.py holds what both must
do to the reported expiries, modes.py which way (repave or in place) a renewal is judged.

Importing this package registers every rule of the family with the catalog.
"""

from kubecert.rules.repave import in_place, renew, upgrade
from kubecert.rules.repave.renew import ApiRenewalContext, RefusedRenewalContext, timeline
from kubecert.rules.repave.upgrade import ApiUpgradeContext

__all__ = ["ApiRenewalContext", "ApiUpgradeContext", "RefusedRenewalContext", "in_place", "renew", "timeline",
           "upgrade"]
