"""Recurrent cells and the learners built from them (ConvLSTM and its autoencoder)."""

from ._convlstm import ConvLSTM as ConvLSTM
from ._convlstm import ConvLSTMCell as ConvLSTMCell
from ._convlstm_autoencoder import ConvLSTMAutoencoder as ConvLSTMAutoencoder

__all__: list[str] = ["ConvLSTM", "ConvLSTMAutoencoder", "ConvLSTMCell"]
