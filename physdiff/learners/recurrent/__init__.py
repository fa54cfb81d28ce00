"""Recurrent cells and the learners built from them (ConvLSTM and its autoencoder, ConvGRU and the
minimal ConvRNNs in the paper's network, ConvRNN)."""

from ._convlstm import ConvLSTM as ConvLSTM
from ._convlstm import ConvLSTMCell as ConvLSTMCell
from ._convlstm_autoencoder import ConvLSTMAutoencoder as ConvLSTMAutoencoder
from ._convgru import ConvGRUCell as ConvGRUCell
from ._convrnn import ConvGRU as ConvGRU
from ._convrnn import ConvRNN as ConvRNN
from ._convrnn import MinConvExpLSTM as MinConvExpLSTM
from ._convrnn import MinConvGRU as MinConvGRU
from ._convrnn import MinConvLSTM as MinConvLSTM
from ._layernorm_convlstm import LayerNormConvLSTMCell as LayerNormConvLSTMCell
from ._minimal_cells import MinConvExpLSTMCell as MinConvExpLSTMCell
from ._minimal_cells import MinConvGRUCell as MinConvGRUCell
from ._minimal_cells import MinConvLSTMCell as MinConvLSTMCell
from ._phycell import PhyCell as PhyCell
from ._phycell import PhyCellDerivative as PhyCellDerivative

__all__: list[str] = ["ConvLSTM", "ConvLSTMAutoencoder", "ConvLSTMCell", "LayerNormConvLSTMCell", "PhyCell",
                      "PhyCellDerivative"]
__all__ += ["ConvGRU", "ConvGRUCell", "ConvRNN", "MinConvExpLSTM", "MinConvExpLSTMCell", "MinConvGRU", "MinConvGRUCell",
            "MinConvLSTM", "MinConvLSTMCell"]
