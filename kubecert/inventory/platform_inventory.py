"""The inventory of an API target: the platform as its management API shows it (inventory/platform.py), on the
common Inventory (inventory/model.py), which names the platform's model only for its types."""

from __future__ import annotations

from dataclasses import dataclass

from kubecert.inventory.model import Inventory
from kubecert.inventory.platform import PlatformObservation


@dataclass
class PlatformInventory(Inventory):
    """The inventory of an API target: no X.509, but the platform as the API shows it."""

    platform: PlatformObservation | None = None

    def platform_observation(self) -> PlatformObservation | None:
        return self.platform


def platform_of(inventory: Inventory) -> PlatformObservation | None:
    """The platform an API target observed; None for a target that has no management API."""
    return inventory.platform_observation()
