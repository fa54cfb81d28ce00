"""Time integrators (filled in by the integrators work)."""
