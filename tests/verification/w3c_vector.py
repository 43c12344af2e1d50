"""The eddsa-jcs-2022 test vector published in the W3C Recommendation.

Source: "Data Integrity EdDSA Cryptosuites v1.0", W3C Recommendation 15 May 2025,
Appendix B.3 "Representation: eddsa-jcs-2022", Examples 29-39
(https://www.w3.org/TR/2025/REC-vc-di-eddsa-20250515/#representation-eddsa-jcs-2022).
Values copied verbatim from the specification's examples; nothing here is derived from
this project's code.
"""

from __future__ import annotations

from typing import Any

# Example 29: the key pair (Multikey).
PUBLIC_KEY_MULTIBASE = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
SECRET_KEY_MULTIBASE = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"

# Example 30: the credential without proof.
UNSECURED: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}

# Example 31: its canonical (JCS) form.
CANONICAL_DOCUMENT = (
    '{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/examples/v2"],'
    '"credentialSubject":{"alumniOf":"The School of Examples","id":"did:example:abcdefgh"},'
    '"description":"A minimum viable example of an Alumni Credential.",'
    '"id":"urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33","issuer":"https://vc.example/issuers/5678",'
    '"name":"Alumni Credential","type":["VerifiableCredential","AlumniCredential"],'
    '"validFrom":"2023-01-01T00:00:00Z"}'
)

# Example 32: SHA-256 of the canonical credential (hex).
DOCUMENT_HASH = "59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19"

VERIFICATION_METHOD = f"did:key:{PUBLIC_KEY_MULTIBASE}#{PUBLIC_KEY_MULTIBASE}"
CREATED = "2023-02-24T23:36:38Z"

# Example 33: the proof options document.
PROOF_OPTIONS: dict[str, Any] = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "created": CREATED,
    "verificationMethod": VERIFICATION_METHOD,
    "proofPurpose": "assertionMethod",
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
}

# Example 35: SHA-256 of the canonical proof options (hex).
PROOF_OPTIONS_HASH = "66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db"

# Example 36: the two hashes combined, proof options first (hex).
COMBINED_HASH = PROOF_OPTIONS_HASH + DOCUMENT_HASH

# Example 37: the Ed25519 signature of the combined hashes (hex).
SIGNATURE_HEX = (
    "407cd12654b33d718ecbb99179a1506daaa849450bf3fc523cce3e1c96f8b803"
    "51da3f253d725c6f00b07c9e5448d50b3ef78012b9ab54255116d069c6dd2808"
)

# Example 38: the same signature, base58-btc multibase: the proofValue.
PROOF_VALUE = "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX"

# Example 39: the signed credential.
SIGNED: dict[str, Any] = {**UNSECURED, "proof": {**PROOF_OPTIONS, "proofValue": PROOF_VALUE}}
