"""spherekit.compute: a cloud-like service over vSphere (issue 4).

Nodes cloned from images, groups, sizes, placement, snapshots, datastore blobs, guest
commands. Every write goes through an :class:`~spherekit.compute.ops.Operation`: it is
journaled, undone on failure, and available as a plan.
"""

from spherekit.compute.journal import Entry, Journal
from spherekit.compute.ops import Operation, OperationFailed, PlannedCall

__all__ = ["Entry", "Journal", "Operation", "OperationFailed", "PlannedCall"]
