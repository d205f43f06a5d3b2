"""Preservation: fixity checks, the audit trail, BagIt transfer, backup and restore.

Modules: :mod:`.fixity` (re-verify every stored blob), :mod:`.audit` (PREMIS-style events per
item), :mod:`.dc_xml` (Dublin Core XML shared by OAI-PMH, exports and bags), :mod:`.bag`
(BagIt export/import with the PyPI ``bagit`` library), :mod:`.backup` (consistent snapshot of
database + object store, and restore into an empty data directory).
"""
