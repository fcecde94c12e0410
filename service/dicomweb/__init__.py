"""DICOMweb (PS3.18) for PACS and RIS integrations: QIDO-RS search, WADO-RS retrieve, STOW-RS store."""
