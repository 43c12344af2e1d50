"""The certificate as documents: the PDF letter, the Verifiable Credential, the DID document, status lists."""
