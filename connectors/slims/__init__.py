"""The SLiMS 9 connector: a SLiMS database's members, loans and fines as the events of SPEC §4."""
