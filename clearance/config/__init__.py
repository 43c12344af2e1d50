"""Files the operator writes: the policy and the trust file, read and validated into domain objects."""
