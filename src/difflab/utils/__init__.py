"""Small generic helpers below every feature (core): anything here may be imported from anywhere in difflab.

- :mod:`difflab.utils.device`: waiting for a device's queued work, mixed-precision contexts.
- :mod:`difflab.utils.bounds`: declared numeric ranges of config fields (``bounded``).
- :mod:`difflab.utils.faults`: named fault-injection points for the reliability tests.
"""

from difflab.utils.device import autocast_for, pick_device, sync_device

__all__ = ["autocast_for", "pick_device", "sync_device"]
