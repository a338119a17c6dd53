"""Caption backends; importing this package registers them (heavy libraries load lazily)."""

from uirbench.caption.backends import lavis_blip, sidecar, transformers_blip

__all__ = ["lavis_blip", "sidecar", "transformers_blip"]
