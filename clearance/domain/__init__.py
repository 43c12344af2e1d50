"""The pure domain: ordering, states and their folds, the decision, policy, freshness, admission, trust rules.

Imports nothing but the standard library and ``schemas`` (tests/architecture checks it)."""
