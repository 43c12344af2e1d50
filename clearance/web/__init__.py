"""The HTTP verification service (``clearance serve``)."""
