"""``connect oai-pmh``: accepted theses harvested from an OAI-PMH repository (DSpace, EPrints) as deposit events."""
