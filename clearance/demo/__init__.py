"""The demo: an embedded broker, a simulated graduation period, and the service playing it."""
