"""Recurrent cells and the learners built from them (ConvLSTM and its autoencoder)."""

from ._convlstm import ConvLSTM as ConvLSTM
from ._convlstm import ConvLSTMCell as ConvLSTMCell
from ._convlstm_autoencoder import ConvLSTMAutoencoder as ConvLSTMAutoencoder
from ._layernorm_convlstm import LayerNormConvLSTMCell as LayerNormConvLSTMCell
from ._phycell import PhyCell as PhyCell
from ._phycell import PhyCellDerivative as PhyCellDerivative

__all__: list[str] = ["ConvLSTM", "ConvLSTMAutoencoder", "ConvLSTMCell", "LayerNormConvLSTMCell", "PhyCell",
                      "PhyCellDerivative"]
