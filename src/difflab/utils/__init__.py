"""Small generic helpers below every feature (core): anything here may be imported from anywhere in difflab.

- :mod:`difflab.utils.device`: waiting for a device's queued work, mixed-precision contexts.
"""

from difflab.utils.device import autocast_for, pick_device, sync_device

__all__ = ["autocast_for", "pick_device", "sync_device"]
