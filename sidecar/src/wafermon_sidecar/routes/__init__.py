"""HTTP routes of the sidecar."""
