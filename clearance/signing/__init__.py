"""Ed25519 signing keys: the key directory, its checks, rotation, the key in force, public JWK Sets."""
