"""Live cross-checks against Keras 3 and tf_keras (TensorFlow installed), with fresh random weights.

The golden fixtures cover every case; live checks take one case per option family and writer (each costs a few
seconds of TensorFlow)."""

from __future__ import annotations

import keras_cases
import pytest
from helpers import assert_matches_keras

pytestmark = pytest.mark.keras
WRITERS = {"k3": "keras", "tfk": "tf_keras"}


LIVE = [
    "lstm_basic", "lstm_seq_dense", "lstm_go_backwards_seq", "lstm_no_bias", "lstm_hard_sigmoid",
    "lstm_dropout_unroll", "stacked_lstm_gru_rnn", "gru_basic", "gru_noreset", "gru_hard_sigmoid",
    "gru_noreset_go_backwards", "simple_rnn_go_backwards", "mask_lstm_seq", "mask_gru_last",
    "mask_zero_out_lstm_last", "mask_lstm_go_backwards_last", "mask_full_row_lstm_last", "mask_value_neg1_lstm",
    "embedding_mask_lstm_seq", "bidir_lstm_ave", "bidir_gru_seq_mask", "bidir_custom_backward", "td_lstm",
    "td_dense", "dense_3d", "repeat_vector", "permute", "reshape", "functional_chain", "stateful_lstm",
    "stateful_gru", "act_gelu", "act_hard_sigmoid", "act_selu", "lstm_basic_extreme", "gru_noreset_extreme",
    "encdec_lstm_state", "shared_merges", "nested_sequential", "bidir_none_state", "stacked_cells",
    "conv_bilstm_attention", "masked_gap", "normalization", "mha",
]


def _params():
    for name in LIVE:
        for writer in WRITERS:
            if writer not in keras_cases.SKIP.get(name, {}):
                yield pytest.param(name, writer, id=f"{name}-{writer}")


def test_live_cases_exist():
    assert set(LIVE) <= set(keras_cases.CASES)


@pytest.mark.parametrize("name,writer", list(_params()))
def test_matches_keras(name, writer, tmp_path):
    keras = pytest.importorskip(WRITERS[writer], reason=f"{WRITERS[writer]} is installed by `make test`")
    model, x = keras_cases.CASES[name](keras, keras_cases.rng_for(name + "/live"))
    assert_matches_keras(model, x, tmp_path, label=f"live/{name}/{writer}")
