"""IR-SDE restoration: the ConditionalUNet noise predictor and the mean-reverting SDE."""

from uirbench.models.irsde.sde import IRSDE
from uirbench.models.irsde.unet import ConditionalUNet

__all__ = ["IRSDE", "ConditionalUNet"]
