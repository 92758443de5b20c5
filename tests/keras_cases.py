"""Model builders for the golden fixtures (and for later live tests).

Every case is a function ``build(keras, rng) -> (model, x)``:

* ``keras`` is either the Keras 3 module (``import keras``) or tf_keras
  (``import tf_keras as keras``); one builder serves both writers.
* ``rng`` is a ``numpy.random.Generator`` (use :func:`rng_for`).
* The builder makes a small model (units 3-8, T 4-7, batch 4), replaces EVERY
  weight with ``rng.normal(0, 0.5, shape)`` float32 via ``model.set_weights``
  (embeddings too) and returns the input: float32 ``(batch, ...)``, or int32
  token ids for Embedding models.
* Stateful cases (names in :data:`STATEFUL`) return ``x`` as a tuple of three
  arrays ``(x0, x1, x2)`` to be fed to three consecutive ``predict`` calls.

Weights and inputs depend only on the case name (and, through the weight
shapes, on the architecture), so a case built under Keras 3 and under
tf_keras gets bit-identical weights and inputs: their outputs may be compared
directly.

This module does not import Keras itself.

Exports
-------
CASES         name -> builder, every case.
DESCRIPTIONS  name -> one-line description.
NOTES         name -> list of behaviour notes worth knowing (also put in meta.json).
SKIP          name -> {writer: reason} for writers that cannot build the case.
K22_CASES     cases for which a Keras 2.2.4-style legacy .h5 is synthesized
              from the tf_keras file (see make_fixtures.py).
STATEFUL      cases whose fixture is three consecutive predict calls.
EXTREME       name -> (base case name, input scale): ``*_extreme`` variants
              reuse the base builder (same seed, hence same weights) and scale
              x by 10 to drive gates into saturation.
WRITERS       all writer ids: "k3" (Keras 3), "tfk" (tf_keras 2.x), "k22".
"""

from __future__ import annotations

import zlib

import numpy as np

BATCH = 4
WRITERS = ("k3", "tfk", "k22")
EXTREME_SCALE = 10.0


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def seed_for(name: str) -> int:
    """Stable (process-independent) seed for a case name."""
    return zlib.crc32(name.encode("utf-8"))


def rng_for(name: str) -> np.random.Generator:
    """The generator a case is built with; ``*_extreme`` uses its base's."""
    base = EXTREME[name][0] if name in EXTREME else name
    return np.random.default_rng(seed_for(base))


def is_keras3(keras) -> bool:
    return not keras.__name__.startswith("tf_keras")


def randomize(model, rng, scale: float = 0.5) -> None:
    """Replace every weight of ``model`` with N(0, scale) float32."""
    model.set_weights(
        [rng.normal(0.0, scale, np.shape(w)).astype(np.float32)
         for w in model.get_weights()])


def normal_x(rng, *shape) -> np.ndarray:
    return rng.normal(0.0, 1.0, (BATCH,) + tuple(shape)).astype(np.float32)


def seq(keras, shape, layers, dtype=None, batch_size=None, name=None):
    """Sequential model with an explicit Input (works in Keras 3 and tf_keras)."""
    inp = keras.Input(shape=shape, dtype=dtype, batch_size=batch_size)
    return keras.Sequential([inp] + list(layers), name=name)


MASK_PATTERN = {
    # row: timesteps set to mask_value (negative indices count from the end)
    0: (0, 1),          # pre-padded
    1: (-2, -1),        # post-padded
    2: (2, 3),          # masked in the middle
    3: (),              # not masked
}


def masked_x(rng, T, F, value=0.0, fully_masked_row=None):
    """Float input whose rows exercise pre/post/middle masking.

    Row 0: first 2 steps == value; row 1: last 2 steps; row 2: steps 2 and 3;
    row 3: none.  If ``fully_masked_row`` is given, that row is all == value.
    """
    x = normal_x(rng, T, F)
    for row, steps in MASK_PATTERN.items():
        for t in steps:
            x[row, t, :] = value
    if fully_masked_row is not None:
        x[fully_masked_row, :, :] = value
    return x


def token_x(rng, T, vocab):
    """int32 token ids in [1, vocab) with zeros pre (row 0), post (row 1) and
    in the middle (row 2); row 3 has no zero."""
    x = rng.integers(1, vocab, size=(BATCH, T)).astype(np.int32)
    for row, steps in MASK_PATTERN.items():
        for t in steps:
            x[row, t] = 0
    return x


def _rnn(keras, kind, units, **kw):
    return {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
            "simple_rnn": keras.layers.SimpleRNN}[kind](units, **kw)


# ----------------------------------------------------------------------------
# builder factories
# ----------------------------------------------------------------------------

def _plain_rnn(kind, units=4, T=6, F=3, dense=None, **kw):
    """Single RNN layer (optionally followed by Dense(dense))."""
    def build(keras, rng):
        layers = [_rnn(keras, kind, units, **kw)]
        if dense:
            layers.append(keras.layers.Dense(dense))
        model = seq(keras, (T, F), layers)
        randomize(model, rng)
        return model, normal_x(rng, T, F)
    return build


def _masked_rnn(kind, return_sequences, units=4, T=6, F=3, value=0.0,
                fully_masked_row=None, **kw):
    def build(keras, rng):
        model = seq(keras, (T, F), [
            keras.layers.Masking(mask_value=value),
            _rnn(keras, kind, units, return_sequences=return_sequences, **kw),
        ])
        randomize(model, rng)
        return model, masked_x(rng, T, F, value, fully_masked_row)
    cls = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}[kind]
    args = [str(units), f"return_sequences={return_sequences}"]
    args += [f"{k}={v!r}" for k, v in kw.items()]
    rows = ("rows: 0 pre-padded (steps 0,1), 1 post-padded (last 2 steps), "
            "2 masked at steps 2,3, "
            + (f"{fully_masked_row} ENTIRELY masked" if fully_masked_row is not None
               else "3 unmasked"))
    build.desc = (f"Masking(mask_value={value}) -> {cls}({', '.join(args)}) "
                  f"on ({T},{F}); {rows}")
    return build


def _act_case(act, T=5, F=3):
    """SimpleRNN(4, activation=act) -> Dense(3, activation=act)."""
    def build(keras, rng):
        model = seq(keras, (T, F), [
            keras.layers.SimpleRNN(4, activation=act),
            keras.layers.Dense(3, activation=act),
        ])
        randomize(model, rng)
        x = normal_x(rng, T, F)
        if act == "exponential":
            # exp() in a recurrence explodes double-exponentially (inf by T=4
            # with sigma 0.5): shrink the recurrent kernel to sigma 0.1 and x
            # by 0.1 so every value stays finite and moderate.
            w = model.get_weights()
            w[1] = (w[1] * np.float32(0.2)).astype(np.float32)
            model.set_weights(w)
            x *= np.float32(0.1)
        return model, x
    return build


def _lstm_recact_case(act, T=5, F=3):
    def build(keras, rng):
        model = seq(keras, (T, F), [
            keras.layers.LSTM(4, recurrent_activation=act)])
        randomize(model, rng)
        return model, normal_x(rng, T, F)
    return build


def _bidir_lstm(merge_mode, return_sequences=False, T=5, F=3):
    def build(keras, rng):
        model = seq(keras, (T, F), [keras.layers.Bidirectional(
            keras.layers.LSTM(4, return_sequences=return_sequences),
            merge_mode=merge_mode)])
        randomize(model, rng)
        return model, normal_x(rng, T, F)
    return build


def _stateful(kind, T=5, F=3, units=4):
    def build(keras, rng):
        model = seq(keras, (T, F), [
            _rnn(keras, kind, units, stateful=True, return_sequences=True),
            keras.layers.Dense(3),
        ], batch_size=BATCH)
        randomize(model, rng)
        return model, tuple(normal_x(rng, T, F) for _ in range(3))
    return build


def _extreme(base_builder, scale=EXTREME_SCALE):
    def build(keras, rng):
        model, x = base_builder(keras, rng)
        return model, (x * np.float32(scale)).astype(np.float32)
    return build


# ----------------------------------------------------------------------------
# individual builders
# ----------------------------------------------------------------------------

def build_stacked_lstm_gru_rnn(keras, rng):
    T, F = 6, 3
    model = seq(keras, (T, F), [
        keras.layers.LSTM(6, return_sequences=True),
        keras.layers.GRU(5, return_sequences=True),
        keras.layers.SimpleRNN(4),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_mask_stacked(keras, rng):
    """Masking -> LSTM(seq) -> GRU(last): the mask must reach the second RNN."""
    T, F = 6, 3
    model = seq(keras, (T, F), [
        keras.layers.Masking(0.0),
        keras.layers.LSTM(5, return_sequences=True),
        keras.layers.GRU(4),
    ])
    randomize(model, rng)
    return model, masked_x(rng, T, F)


def build_mask_lstm_td_dense(keras, rng):
    """Masking -> LSTM(seq) -> TimeDistributed(Dense): masked steps of the
    output are whatever the LSTM repeats there, passed through Dense."""
    T, F = 6, 3
    model = seq(keras, (T, F), [
        keras.layers.Masking(0.0),
        keras.layers.LSTM(4, return_sequences=True),
        keras.layers.TimeDistributed(keras.layers.Dense(3)),
    ])
    randomize(model, rng)
    return model, masked_x(rng, T, F)


def _embedding_case(kind, mask_zero, return_sequences=False, T=6, vocab=10):
    def build(keras, rng):
        layers = [keras.layers.Embedding(vocab, 4, mask_zero=mask_zero),
                  _rnn(keras, kind, 5, return_sequences=return_sequences)]
        if return_sequences:
            layers.append(keras.layers.Dense(3))
        model = seq(keras, (T,), layers, dtype="int32")
        randomize(model, rng)
        return model, token_x(rng, T, vocab)
    return build


def build_bidir_gru_seq_mask(keras, rng):
    T, F = 6, 3
    model = seq(keras, (T, F), [
        keras.layers.Masking(0.0),
        keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True)),
    ])
    randomize(model, rng)
    return model, masked_x(rng, T, F)


def build_bidir_simple_rnn_mask(keras, rng):
    T, F = 6, 3
    model = seq(keras, (T, F), [
        keras.layers.Masking(0.0),
        keras.layers.Bidirectional(keras.layers.SimpleRNN(4)),
    ])
    randomize(model, rng)
    return model, masked_x(rng, T, F)


def build_bidir_custom_backward(keras, rng):
    """Forward LSTM(4), backward GRU(3) (different class and width), concat."""
    T, F = 5, 3
    model = seq(keras, (T, F), [keras.layers.Bidirectional(
        keras.layers.LSTM(4, return_sequences=True),
        backward_layer=keras.layers.GRU(3, return_sequences=True,
                                        go_backwards=True))])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_td_dense(keras, rng):
    T, F = 5, 3
    model = seq(keras, (T, F), [
        keras.layers.LSTM(5, return_sequences=True),
        keras.layers.TimeDistributed(keras.layers.Dense(3, activation="tanh")),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_td_lstm(keras, rng):
    """TimeDistributed(LSTM(4)) over input (batch, 3, 5, 4)."""
    model = seq(keras, (3, 5, 4), [
        keras.layers.TimeDistributed(keras.layers.LSTM(4)),
    ])
    randomize(model, rng)
    return model, normal_x(rng, 3, 5, 4)


def build_dense_stack(keras, rng):
    model = seq(keras, (6,), [
        keras.layers.Dense(5, activation="relu"),
        keras.layers.Dense(4, activation="tanh"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    randomize(model, rng)
    return model, normal_x(rng, 6)


def build_dense_3d(keras, rng):
    T, F = 5, 3
    model = seq(keras, (T, F), [
        keras.layers.Dense(6, activation="sigmoid"),
        keras.layers.Dense(4, activation="elu"),
        keras.layers.Dense(3, activation="selu"),
        keras.layers.Dense(2),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_activation_layer(keras, rng):
    T, F = 5, 3
    model = seq(keras, (T, F), [
        keras.layers.LSTM(4, return_sequences=True),
        keras.layers.Activation("relu"),
        keras.layers.Dense(3),
        keras.layers.Activation("softmax"),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_flatten(keras, rng):
    T, F = 5, 3
    model = seq(keras, (T, F), [
        keras.layers.LSTM(4, return_sequences=True),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_reshape(keras, rng):
    T, F = 6, 3
    model = seq(keras, (T, F), [
        keras.layers.LSTM(4, return_sequences=True),   # (6, 4)
        keras.layers.Reshape((3, 8)),                   # (3, 8)
        keras.layers.LSTM(3),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_repeat_vector(keras, rng):
    T, F = 5, 3
    model = seq(keras, (T, F), [
        keras.layers.LSTM(4),
        keras.layers.RepeatVector(3),
        keras.layers.LSTM(3, return_sequences=True),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_permute(keras, rng):
    """Input (5, 3) -> Permute((2, 1)) -> LSTM over 3 steps of 5 features."""
    model = seq(keras, (5, 3), [
        keras.layers.Permute((2, 1)),
        keras.layers.LSTM(4),
    ])
    randomize(model, rng)
    return model, normal_x(rng, 5, 3)


def build_noise_layers(keras, rng):
    """Dropout, SpatialDropout1D, GaussianNoise, GaussianDropout, AlphaDropout:
    all identity at inference."""
    T, F = 5, 3
    L = keras.layers
    model = seq(keras, (T, F), [
        L.Dropout(0.5),
        L.LSTM(6, return_sequences=True),
        L.SpatialDropout1D(0.3),
        L.GaussianNoise(0.5),
        L.GaussianDropout(0.3),
        L.AlphaDropout(0.2),
        L.GRU(4),
        L.Dropout(0.25),
        L.Dense(3),
    ])
    randomize(model, rng)
    return model, normal_x(rng, T, F)


def build_functional_chain(keras, rng):
    T, F = 5, 3
    inp = keras.Input(shape=(T, F), name="seq_in")
    h = keras.layers.LSTM(5, name="encoder")(inp)
    out = keras.layers.Dense(3, activation="sigmoid", name="head")(h)
    model = keras.Model(inp, out, name="chain")
    randomize(model, rng)
    return model, normal_x(rng, T, F)


# ----------------------------------------------------------------------------
# functional graphs and the layers around recurrent models (issue 7)
# ----------------------------------------------------------------------------

def _desc(text):
    def deco(fn):
        fn.desc = text
        return fn
    return deco


def _fmodel(keras, inputs, outputs, rng, x):
    model = keras.Model(inputs, outputs)
    randomize(model, rng)
    return model, x


@_desc("encoder LSTM(4, return_state) -> decoder LSTM(4, seq, initial_state=[h, c]) -> Dense(2); two inputs")
def build_encdec_lstm_state(keras, rng):
    L = keras.layers
    ei, di = keras.Input((5, 3), name="enc_in"), keras.Input((4, 2), name="dec_in")
    _, h, c = L.LSTM(4, return_state=True, name="enc")(ei)
    y = L.LSTM(4, return_sequences=True, name="dec")(di, initial_state=[h, c])
    return _fmodel(keras, [ei, di], L.Dense(2)(y), rng, [normal_x(rng, 5, 3), normal_x(rng, 4, 2)])


@_desc("GRU(4, return_state) outputs [y, h] and a SimpleRNN decoder from h; three outputs")
def build_gru_state_outputs(keras, rng):
    L = keras.layers
    x = keras.Input((5, 3))
    y, h = L.GRU(4, return_state=True)(x)
    r = L.SimpleRNN(4, return_sequences=True)(L.RepeatVector(3)(y), initial_state=[h])
    return _fmodel(keras, x, [y, h, r], rng, normal_x(rng, 5, 3))


@_desc("two inputs: LSTM(4) branch and Dense(4) branch -> Concatenate -> Dense(3)")
def build_two_input_concat(keras, rng):
    L = keras.layers
    a, b = keras.Input((5, 3), name="seq"), keras.Input((2,), name="aux")
    y = L.Concatenate()([L.LSTM(4)(a), L.Dense(4, activation="tanh")(b)])
    return _fmodel(keras, [a, b], L.Dense(3)(y), rng, [normal_x(rng, 5, 3), normal_x(rng, 2)])


@_desc("a shared LSTM(4) applied to two inputs; Add, Subtract, Multiply, Average, Maximum, Minimum, Dot")
def build_shared_merges(keras, rng):
    L = keras.layers
    a, b = keras.Input((5, 3)), keras.Input((5, 3))
    lstm = L.LSTM(4)
    ha, hb = lstm(a), lstm(b)
    outs = [L.Add()([ha, hb]), L.Subtract()([ha, hb]), L.Multiply()([ha, hb]), L.Average()([ha, hb]),
            L.Maximum()([ha, hb]), L.Minimum()([ha, hb]), L.Dot(axes=1)([ha, hb]),
            L.Dot(axes=1, normalize=True)([ha, hb])]
    return _fmodel(keras, [a, b], L.Concatenate()(outs), rng, [normal_x(rng, 5, 3), normal_x(rng, 5, 3)])


@_desc("Dot(axes=2) of two sequences (b,5,4)x(b,6,4) -> (b,5,6)")
def build_dot_seq(keras, rng):
    L = keras.layers
    a, b = keras.Input((5, 4)), keras.Input((6, 4))
    return _fmodel(keras, [a, b], L.Dot(axes=2)([a, b]), rng, [normal_x(rng, 5, 4), normal_x(rng, 6, 4)])


@_desc("a Sequential (LSTM(4, seq) -> Dense(3)) nested in a functional model, then GRU(3)")
def build_nested_sequential(keras, rng):
    L = keras.layers
    inner = keras.Sequential([keras.Input((5, 3)), L.LSTM(4, return_sequences=True), L.Dense(3)], name="inner")
    x = keras.Input((5, 3))
    return _fmodel(keras, x, L.GRU(3)(inner(x)), rng, normal_x(rng, 5, 3))


@_desc("Bidirectional(LSTM(3, seq, return_state), merge_mode=None): 6 outputs")
def build_bidir_none_state(keras, rng):
    L = keras.layers
    x = keras.Input((5, 3))
    outs = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True), merge_mode=None)(x)
    return _fmodel(keras, x, list(outs), rng, normal_x(rng, 5, 3))


@_desc("Masking -> Bidirectional(GRU(3, return_state)) concat -> [y, h_fwd, h_bwd]")
def build_bidir_gru_state_mask(keras, rng):
    L = keras.layers
    x = keras.Input((6, 3))
    outs = L.Bidirectional(L.GRU(3, return_state=True))(L.Masking()(x))
    return _fmodel(keras, x, list(outs), rng, masked_x(rng, 6, 3))


@_desc("RNN(LSTMCell(4), return_sequences=True) -> RNN(GRUCell(3)) -> Dense(2)")
def build_rnn_cells(keras, rng):
    L = keras.layers
    x = keras.Input((5, 3))
    y = L.RNN(L.LSTMCell(4), return_sequences=True)(x)
    y = L.RNN(L.GRUCell(3))(y)
    return _fmodel(keras, x, L.Dense(2)(y), rng, normal_x(rng, 5, 3))


@_desc("Masking -> RNN(StackedRNNCells([LSTMCell(4), GRUCell(3), SimpleRNNCell(2)]), seq, return_state)")
def build_stacked_cells(keras, rng):
    L = keras.layers
    x = keras.Input((6, 3))
    cells = L.StackedRNNCells([L.LSTMCell(4), L.GRUCell(3), L.SimpleRNNCell(2)])
    outs = L.RNN(cells, return_sequences=True, return_state=True)(L.Masking()(x))
    return _fmodel(keras, x, list(outs), rng, masked_x(rng, 6, 3))


@_desc("Conv1D(6,3,same) -> MaxPooling1D -> Bidirectional(LSTM(4, seq)) -> Attention -> GlobalAveragePooling1D -> Dense(3, softmax)")
def build_conv_bilstm_attention(keras, rng):
    L = keras.layers
    x = keras.Input((8, 3))
    y = L.Conv1D(6, 3, padding="same", activation="relu")(x)
    y = L.MaxPooling1D(2)(y)
    y = L.Bidirectional(L.LSTM(4, return_sequences=True))(y)
    y = L.Attention()([y, y])
    y = L.GlobalAveragePooling1D()(y)
    return _fmodel(keras, x, L.Dense(3, activation="softmax")(y), rng, normal_x(rng, 8, 3))


@_desc("Embedding(mask_zero) -> LSTM(4, seq) -> GlobalAveragePooling1D: masked steps excluded from the mean")
def build_masked_gap(keras, rng):
    L = keras.layers
    x = keras.Input((6,))
    y = L.LSTM(4, return_sequences=True)(L.Embedding(10, 3, mask_zero=True)(x))
    return _fmodel(keras, x, L.GlobalAveragePooling1D()(y), rng, token_x(rng, 6, 10))


@_desc("Conv1D padding causal/valid/same, strides 2, dilation 2, groups 2, no bias; SeparableConv1D")
def build_conv1d_options(keras, rng):
    L = keras.layers
    x = keras.Input((9, 4))
    a = L.Conv1D(4, 3, padding="causal", dilation_rate=2)(x)
    b = L.Conv1D(4, 3, padding="same", strides=2, use_bias=False, activation="tanh")(x)
    c = L.Conv1D(4, 2, padding="valid", groups=2)(x)
    d = L.SeparableConv1D(3, 3, padding="same", depth_multiplier=2)(x)
    return _fmodel(keras, x, [a, b, c, d], rng, normal_x(rng, 9, 4))


@_desc("pooling/padding: MaxPooling1D same, AveragePooling1D same/valid strides, GlobalMax, ZeroPadding1D, Cropping1D, UpSampling1D")
def build_pooling_shapes(keras, rng):
    L = keras.layers
    x = keras.Input((7, 3))
    a = L.MaxPooling1D(3, strides=2, padding="same")(x)
    b = L.AveragePooling1D(3, strides=2, padding="same")(x)
    c = L.AveragePooling1D(2, strides=1)(x)
    d = L.GlobalMaxPooling1D(keepdims=True)(x)
    e = L.UpSampling1D(2)(L.Cropping1D((1, 2))(L.ZeroPadding1D((2, 1))(x)))
    f = L.GlobalAveragePooling1D()(x)
    return _fmodel(keras, x, [a, b, c, d, e, f], rng, normal_x(rng, 7, 3))


@_desc("BatchNormalization (random moving stats), LayerNormalization, UnitNormalization around an LSTM")
def build_normalization(keras, rng):
    L = keras.layers
    x = keras.Input((5, 3))
    y = L.BatchNormalization(epsilon=0.01)(x)
    y = L.LSTM(4, return_sequences=True)(y)
    y = L.LayerNormalization()(y)
    y = L.BatchNormalization(center=False)(y)
    y = L.LayerNormalization(scale=False, epsilon=0.1)(y)
    z = L.UnitNormalization()(y)
    model = keras.Model(x, [y, z])
    model.set_weights([np.abs(rng.normal(0.5, 0.5, np.shape(w))).astype(np.float32) + np.float32(0.1)
                       if "variance" in w.path else rng.normal(0, 0.5, np.shape(w)).astype(np.float32)
                       for w in model.weights] if is_keras3(keras) else
                      [np.abs(rng.normal(0.5, 0.5, np.shape(w))).astype(np.float32) + np.float32(0.1)
                       if "variance" in w.name else rng.normal(0, 0.5, np.shape(w)).astype(np.float32)
                       for w in model.weights])
    return model, normal_x(rng, 5, 3)


@_desc("merges of inputs of different ranks: Keras inserts size-1 axes after the batch axis (base_merge)")
def build_merge_ranks(keras, rng):
    L = keras.layers
    a, b = keras.Input((1, 3)), keras.Input((4, 1, 3))
    c, d = keras.Input((12,)), keras.Input((10, 12))
    outs = [L.Multiply()([a, b]), L.Add()([c, d]), L.Maximum()([d, c]), L.Average()([c, d, d])]
    return _fmodel(keras, [a, b, c, d], outs, rng, [normal_x(rng, 1, 3), normal_x(rng, 4, 1, 3), normal_x(rng, 12),
                                                    normal_x(rng, 10, 12)])


@_desc("BatchNormalization(axis=[2, 3]) on (5, 2, 3): statistics shaped (1, 1, 2, 3) (tf_keras only)")
def build_batchnorm_axes(keras, rng):
    L = keras.layers
    x = keras.Input((5, 2, 3))
    model = keras.Model(x, L.BatchNormalization(axis=[2, 3], epsilon=0.01)(x))
    model.set_weights([np.abs(rng.normal(0.5, 0.5, np.shape(w))).astype(np.float32) + np.float32(0.1)
                       if "variance" in w.name else rng.normal(0, 0.5, np.shape(w)).astype(np.float32)
                       for w in model.weights])
    return model, normal_x(rng, 5, 2, 3)


@_desc("Conv2D: padding same + strides (2, 1); dilation 2 + relu; groups=3 without bias")
def build_conv2d_options(keras, rng):
    L = keras.layers
    x = keras.Input((7, 6, 3))
    outs = [L.Conv2D(4, (3, 2), padding="same", strides=(2, 1))(x),
            L.Conv2D(4, 3, dilation_rate=2, activation="relu")(x),
            L.Conv2D(6, 2, groups=3, use_bias=False)(x)]
    return _fmodel(keras, x, outs, rng, normal_x(rng, 7, 6, 3))


@_desc("DepthwiseConv2D(depth_multiplier=2, same) and SeparableConv2D(strides 2, same, depth_multiplier=2)")
def build_depthwise_separable2d(keras, rng):
    L = keras.layers
    x = keras.Input((7, 6, 3))
    outs = [L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x),
            L.SeparableConv2D(5, (2, 3), strides=2, padding="same", depth_multiplier=2, activation="tanh")(x)]
    return _fmodel(keras, x, outs, rng, normal_x(rng, 7, 6, 3))


@_desc("Conv3D: padding same + strides (1, 2, 1); dilation (1, 2, 1)")
def build_conv3d(keras, rng):
    L = keras.layers
    x = keras.Input((4, 5, 6, 2))
    outs = [L.Conv3D(3, (2, 3, 2), padding="same", strides=(1, 2, 1))(x),
            L.Conv3D(2, 2, dilation_rate=(1, 2, 1))(x)]
    return _fmodel(keras, x, outs, rng, normal_x(rng, 4, 5, 6, 2))


@_desc("2-D and 3-D Max/AveragePooling (valid/same, strides) and GlobalMax/GlobalAveragePooling (keepdims)")
def build_pooling_nd(keras, rng):
    L = keras.layers
    a, b = keras.Input((7, 6, 3)), keras.Input((4, 5, 6, 2))
    outs = [L.MaxPooling2D((3, 2), strides=2, padding="same")(a), L.AveragePooling2D(2, strides=1, padding="same")(a),
            L.AveragePooling2D((2, 3))(a), L.GlobalMaxPooling2D()(a), L.GlobalAveragePooling2D(keepdims=True)(a),
            L.MaxPooling3D(2, padding="same")(b), L.AveragePooling3D((2, 2, 3), padding="same")(b),
            L.GlobalMaxPooling3D(keepdims=True)(b), L.GlobalAveragePooling3D()(b)]
    return _fmodel(keras, [a, b], outs, rng, [normal_x(rng, 7, 6, 3), normal_x(rng, 4, 5, 6, 2)])


@_desc("ZeroPadding2D/3D, Cropping2D/3D, UpSampling2D (nearest, bilinear) and UpSampling3D")
def build_reshaping_nd(keras, rng):
    L = keras.layers
    a, b = keras.Input((5, 4, 3)), keras.Input((3, 4, 5, 2))
    outs = [L.ZeroPadding2D(((1, 0), (2, 1)))(a), L.Cropping2D(((1, 1), (0, 2)))(a), L.UpSampling2D((2, 3))(a),
            L.UpSampling2D(2, interpolation="bilinear")(a), L.ZeroPadding3D(1)(b),
            L.Cropping3D(((1, 0), (0, 1), (1, 1)))(b), L.UpSampling3D((1, 2, 2))(b)]
    return _fmodel(keras, [a, b], outs, rng, [normal_x(rng, 5, 4, 3), normal_x(rng, 3, 4, 5, 2)])


@_desc("CRNN (OCR-style): Conv2D -> MaxPooling2D -> Conv2D -> MaxPooling2D((2, 1)) -> Permute -> Reshape -> "
       "Bidirectional(GRU, seq) -> Dense(softmax)")
def build_crnn(keras, rng):
    L = keras.layers
    x = keras.Input((16, 12, 1))
    y = L.MaxPooling2D(2)(L.Conv2D(4, 3, padding="same", activation="relu")(x))  # (8, 6, 4)
    y = L.MaxPooling2D((2, 1))(L.Conv2D(6, 3, padding="same", activation="relu")(y))  # (4, 6, 6)
    y = L.Reshape((6, 24))(L.Permute((2, 1, 3))(y))  # width is time
    y = L.Bidirectional(L.GRU(5, return_sequences=True))(y)
    return _fmodel(keras, x, L.Dense(7, activation="softmax")(y), rng, normal_x(rng, 16, 12, 1))


@_desc("TimeDistributed(Conv2D) -> TimeDistributed(GlobalAveragePooling2D) -> LSTM: a video/sensor model")
def build_td_conv_lstm(keras, rng):
    L = keras.layers
    x = keras.Input((5, 8, 8, 2))
    y = L.TimeDistributed(L.Conv2D(3, 3, activation="relu"))(x)
    y = L.TimeDistributed(L.GlobalAveragePooling2D())(y)
    return _fmodel(keras, x, L.LSTM(4)(y), rng, normal_x(rng, 5, 8, 8, 2))


@_desc("ConvLSTM2D (same, sequences) -> ConvLSTM2D (valid, strides 2, go_backwards, return_state); ConvLSTM1D; "
       "ConvLSTM3D")
def build_conv_lstm(keras, rng):
    L = keras.layers
    a, b, c = keras.Input((5, 6, 7, 2)), keras.Input((5, 8, 2)), keras.Input((3, 4, 5, 4, 1))
    y = L.ConvLSTM2D(3, (3, 2), padding="same", return_sequences=True)(a)
    seq, h, cs = L.ConvLSTM2D(2, 3, strides=2, go_backwards=True, return_state=True)(y)
    outs = [seq, h, cs, L.ConvLSTM1D(3, 3, padding="same", return_sequences=True)(b), L.ConvLSTM3D(2, 2)(c)]
    return _fmodel(keras, [a, b, c], outs, rng, [normal_x(rng, 5, 6, 7, 2), normal_x(rng, 5, 8, 2),
                                                 normal_x(rng, 3, 4, 5, 4, 1)])


@_desc("GroupNormalization on (t, 6) and (h, w, 6); Normalization (adapted, and given mean/variance with invert); "
       "Rescaling; DepthwiseConv1D")
def build_norm_preprocess(keras, rng):
    L = keras.layers
    a, b = keras.Input((5, 6)), keras.Input((4, 3, 6))
    norm = L.Normalization()
    norm.adapt(rng.normal(2.0, 3.0, (64, 5, 6)).astype(np.float32))
    given = L.Normalization(mean=[0.5, -1.0, 2.0, 0.0, 1.0, 3.0], variance=[1.0, 4.0, 0.25, 2.0, 9.0, 0.5], invert=True)
    outs = [L.GroupNormalization(3, epsilon=0.01)(a), L.GroupNormalization(2, center=False)(b), norm(a), given(a),
            L.Rescaling(1 / 127.5, offset=-1)(a), L.DepthwiseConv1D(3, depth_multiplier=2, padding="same")(a)]
    model = keras.Model([a, b], outs)
    learned = ("gamma", "beta", "kernel", "bias")  # not the adapted mean/variance/count
    model.set_weights([rng.normal(0.5, 0.5, np.shape(w)).astype(np.float32)
                       if any(k in (w.path if is_keras3(keras) else w.name) for k in learned) else np.asarray(w)
                       for w in model.weights])
    return model, [normal_x(rng, 5, 6), normal_x(rng, 4, 3, 6)]


@_desc("RMSNormalization (Keras 3 only)")
def build_rms_norm(keras, rng):
    L = keras.layers
    x = keras.Input((5, 6))
    return _fmodel(keras, x, L.RMSNormalization(epsilon=1e-5)(x), rng, normal_x(rng, 5, 6))


@_desc("ThresholdedReLU(theta=0.3) (tf_keras only)")
def build_thresholded_relu(keras, rng):
    L = keras.layers
    x = keras.Input((5, 6))
    return _fmodel(keras, x, L.ThresholdedReLU(theta=0.3)(L.Dense(4)(x)), rng, normal_x(rng, 5, 6))


@_desc("Conv1D/2D/3DTranspose: valid/same, strides, dilation, output_padding, relu")
def build_conv_transpose(keras, rng):
    L = keras.layers
    a, b, c = keras.Input((5, 3)), keras.Input((4, 5, 2)), keras.Input((3, 4, 3, 2))
    outs = [L.Conv1DTranspose(4, 3, strides=2)(a), L.Conv1DTranspose(2, 4, strides=3, padding="same")(a),
            L.Conv2DTranspose(3, (3, 2), strides=(2, 1), padding="same", activation="relu")(b),
            L.Conv2DTranspose(2, 2, strides=3)(b), L.Conv2DTranspose(2, 3, dilation_rate=2)(b),
            L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1)(b),
            L.Conv3DTranspose(2, (2, 3, 2), strides=(1, 2, 2), padding="same")(c)]
    return _fmodel(keras, [a, b, c], outs, rng, [normal_x(rng, 5, 3), normal_x(rng, 4, 5, 2),
                                                 normal_x(rng, 3, 4, 3, 2)])


@_desc("EinsumDense: 'ab,bc->ac' with bias c; 'abc,cd->abd' with bias d; 'abc,cde->abde' with bias de, tanh")
def build_einsum_dense(keras, rng):
    L = keras.layers
    a, b = keras.Input((6,)), keras.Input((5, 6))
    outs = [L.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c")(a),
            L.EinsumDense("abc,cd->abd", output_shape=(5, 3), bias_axes="d")(b),
            L.EinsumDense("abc,cde->abde", output_shape=(5, 2, 3), bias_axes="de", activation="tanh")(b),
            L.EinsumDense("abc,cd->abd", output_shape=(None, 2))(b)]
    return _fmodel(keras, [a, b], outs, rng, [normal_x(rng, 6), normal_x(rng, 5, 6)])


@_desc("AdaptiveAveragePooling1D / AdaptiveMaxPooling1D to 3 and 4 steps from 7 (Keras 3 only)")
def build_adaptive_pooling(keras, rng):
    L = keras.layers
    x = keras.Input((7, 3))
    outs = [L.AdaptiveAveragePooling1D(3)(x), L.AdaptiveMaxPooling1D(4)(x), L.AdaptiveAveragePooling1D(4)(x)]
    return _fmodel(keras, x, outs, rng, normal_x(rng, 7, 3))


@_desc("Discretization -> Embedding -> LSTM; CategoryEncoding one_hot / multi_hot / count of integer ids")
def build_discretize_encode(keras, rng):
    L = keras.layers
    a, b, c = keras.Input((6,)), keras.Input((3,), dtype="int32"), keras.Input((1,), dtype="int32")
    y = L.LSTM(4)(L.Embedding(5, 3)(L.Discretization(bin_boundaries=[-1.0, -0.2, 0.3, 1.1])(a)))
    outs = [y, L.CategoryEncoding(6, output_mode="multi_hot")(b), L.CategoryEncoding(6, output_mode="count")(b),
            L.CategoryEncoding(6, output_mode="one_hot")(c)]
    ids = [rng.integers(0, 6, (BATCH, n)).astype(np.int32) for n in (3, 1)]
    return _fmodel(keras, [a, b, c], outs, rng, [normal_x(rng, 6), *ids])


@_desc("keras.activations.* called on tensors in a functional model (op layers: Gelu, Elu, LeakyRelu, ...) "
       "(Keras 3 only)")
def build_op_activations(keras, rng):
    A, ops = keras.activations, keras.ops
    x = keras.Input((5, 6))
    h = keras.layers.Dense(6)(x)
    outs = [A.sigmoid(h), A.tanh(h), A.gelu(h), A.gelu(h, approximate=True), A.silu(h), A.elu(h, alpha=0.7),
            A.selu(h), A.softplus(h), A.softsign(h), A.relu6(h), A.leaky_relu(h, negative_slope=0.1),
            A.hard_sigmoid(h), A.hard_tanh(h), A.log_sigmoid(h), A.log_softmax(h, axis=1), A.celu(h, alpha=0.5),
            A.exponential(h), A.hard_shrink(h, threshold=0.3), A.soft_shrink(h, threshold=0.2), A.sparse_plus(h),
            A.squareplus(h, b=2), A.tanh_shrink(h), ops.threshold(h, 0.1, -1.0), A.softmax(h, axis=1),
            A.sparse_sigmoid(h), A.relu(h)]
    return _fmodel(keras, x, outs, rng, normal_x(rng, 5, 6))


@_desc("a Sequential whose last layer returns a list: LSTM(4, return_state=True) -> Keras returns [y, h, c]")
def build_sequential_return_state(keras, rng):
    model = seq(keras, (5, 3), [keras.layers.Dense(3), keras.layers.LSTM(4, return_state=True)])
    randomize(model, rng)
    return model, normal_x(rng, 5, 3)


@_desc("Dense(5, softmax) on 2 features: an inf input gives a row of +inf and -inf logits (softmax's non-finite rule)")
def build_dense_softmax_wide(keras, rng):
    model = seq(keras, (2,), [keras.layers.Dense(5, activation="softmax")])
    randomize(model, rng)
    return model, normal_x(rng, 2)


@_desc("inert at inference: SpatialDropout2D, SpatialDropout3D, ActivityRegularization")
def build_inert_nd(keras, rng):
    L = keras.layers
    a, b = keras.Input((5, 4, 3)), keras.Input((3, 4, 5, 2))
    outs = [L.ActivityRegularization(l1=0.01)(L.SpatialDropout2D(0.3)(a)), L.SpatialDropout3D(0.5)(b)]
    return _fmodel(keras, [a, b], outs, rng, [normal_x(rng, 5, 4, 3), normal_x(rng, 3, 4, 5, 2)])


@_desc("LayerNormalization(rms_scaling=True) (Keras 3 only)")
def build_layernorm_rms(keras, rng):
    L = keras.layers
    x = keras.Input((5, 4))
    return _fmodel(keras, x, L.LayerNormalization(rms_scaling=True)(x), rng, normal_x(rng, 5, 4))


@_desc("Attention(use_scale, concat) with masks, AdditiveAttention, use_causal_mask")
def build_attention_masked(keras, rng):
    L = keras.layers
    q, v = keras.Input((4, 3)), keras.Input((6, 3))
    mq, mv = L.Masking()(q), L.Masking()(v)
    a = L.Attention(use_scale=True)([mq, mv])
    b = L.Attention(score_mode="concat", use_scale=True)([mq, mv])
    c = L.AdditiveAttention()([mq, mv])
    d = L.Attention()([q, q], use_causal_mask=True)
    xq = normal_x(rng, 4, 3)
    xq[1, 2] = 0.0
    return _fmodel(keras, [q, v], [a, b, c, d], rng, [xq, masked_x(rng, 6, 3)])


@_desc("MultiHeadAttention(2 heads, key_dim 3) cross-attention query/value/key, and causal self-attention")
def build_mha(keras, rng):
    L = keras.layers
    q, v = keras.Input((4, 6)), keras.Input((5, 6))
    a = L.MultiHeadAttention(2, 3, value_dim=2)(q, v, v)
    b = L.MultiHeadAttention(2, 3, use_bias=False, output_shape=5)(q, q, use_causal_mask=True)
    return _fmodel(keras, [q, v], [a, b], rng, [normal_x(rng, 4, 6), normal_x(rng, 5, 6)])


@_desc("Masking -> MultiHeadAttention self-attention (value mask) -> GlobalAveragePooling1D")
def build_mha_masked(keras, rng):
    L = keras.layers
    x = keras.Input((6, 4))
    m = L.Masking()(x)
    y = L.MultiHeadAttention(2, 2)(m, m)
    return _fmodel(keras, x, y, rng, masked_x(rng, 6, 4))


@_desc("ReLU(max_value, negative_slope, threshold), LeakyReLU, PReLU(shared_axes), ELU, Softmax(axis)")
def build_activation_layers(keras, rng):
    L = keras.layers
    x = keras.Input((5, 3))
    y = L.LSTM(4, return_sequences=True)(x)
    outs = [L.ReLU()(y), L.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.05)(y),
            L.LeakyReLU()(y), L.PReLU()(y), L.PReLU(shared_axes=[1])(y), L.ELU(alpha=0.7)(y),
            L.Softmax(axis=1)(y), L.Softmax()(y)]
    return _fmodel(keras, x, outs, rng, 3 * normal_x(rng, 5, 3))


# ----------------------------------------------------------------------------
# the case table
# ----------------------------------------------------------------------------

# Activation strings tried for act_* cases.  Availability (checked with
# keras.activations.get / tf_keras.activations.get):
ACTIVATIONS = [
    "tanh", "sigmoid", "hard_sigmoid", "relu", "linear", "elu", "selu",
    "softplus", "softsign", "swish", "silu", "gelu", "exponential", "relu6",
    "leaky_relu", "mish", "hard_silu", "hard_swish", "log_sigmoid", "softmax",
    "log_softmax", "celu", "hard_tanh", "squareplus", "sparse_plus",
    "tanh_shrink", "soft_shrink", "hard_shrink", "sparsemax", "sparse_sigmoid",
]
# Strings tf_keras 2.21 rejects ("Unknown activation function").
TFK_MISSING_ACTIVATIONS = {
    "hard_silu", "hard_swish", "log_sigmoid", "celu", "hard_tanh",
    "squareplus", "sparse_plus", "tanh_shrink", "soft_shrink", "hard_shrink",
    "sparsemax", "sparse_sigmoid",
}
GATE_ACTIVATIONS = ["sigmoid", "hard_sigmoid", "softsign", "linear", "relu"]

CASES = {
    # --- LSTM --------------------------------------------------------------
    "lstm_basic": _plain_rnn("lstm"),
    "lstm_seq_dense": _plain_rnn("lstm", units=5, return_sequences=True, dense=3),
    "lstm_go_backwards_seq": _plain_rnn("lstm", go_backwards=True, return_sequences=True),
    "lstm_go_backwards": _plain_rnn("lstm", go_backwards=True),
    "lstm_no_bias": _plain_rnn("lstm", use_bias=False),
    "lstm_activation_relu": _plain_rnn("lstm", activation="relu"),
    "lstm_activation_sigmoid_rec_tanh": _plain_rnn(
        "lstm", activation="sigmoid", recurrent_activation="tanh"),
    "lstm_hard_sigmoid": _plain_rnn("lstm", recurrent_activation="hard_sigmoid"),
    "lstm_dropout_unroll": _plain_rnn(
        "lstm", T=5, dropout=0.3, recurrent_dropout=0.2, unroll=True),
    "stacked_lstm_gru_rnn": build_stacked_lstm_gru_rnn,
    # --- GRU ----------------------------------------------------------------
    "gru_basic": _plain_rnn("gru", reset_after=True),
    "gru_seq": _plain_rnn("gru", units=5, reset_after=True, return_sequences=True, dense=3),
    "gru_go_backwards": _plain_rnn("gru", reset_after=True, go_backwards=True,
                                   return_sequences=True),
    "gru_no_bias": _plain_rnn("gru", reset_after=True, use_bias=False),
    "gru_hard_sigmoid": _plain_rnn("gru", reset_after=True,
                                   recurrent_activation="hard_sigmoid"),
    "gru_noreset": _plain_rnn("gru", reset_after=False),
    "gru_noreset_go_backwards": _plain_rnn("gru", reset_after=False, go_backwards=True,
                                           return_sequences=True),
    "gru_noreset_no_bias": _plain_rnn("gru", reset_after=False, use_bias=False),
    "gru_noreset_hard_sigmoid": _plain_rnn("gru", reset_after=False,
                                           recurrent_activation="hard_sigmoid"),
    # --- SimpleRNN ----------------------------------------------------------
    "simple_rnn_basic": _plain_rnn("simple_rnn", units=5),
    "simple_rnn_seq": _plain_rnn("simple_rnn", units=5, return_sequences=True),
    "simple_rnn_go_backwards": _plain_rnn("simple_rnn", go_backwards=True,
                                          return_sequences=True),
    "simple_rnn_no_bias": _plain_rnn("simple_rnn", use_bias=False),
    # --- masking ------------------------------------------------------------
    "mask_lstm_seq": _masked_rnn("lstm", True),
    "mask_lstm_last": _masked_rnn("lstm", False),
    "mask_gru_seq": _masked_rnn("gru", True, reset_after=True),
    "mask_gru_last": _masked_rnn("gru", False, reset_after=True),
    "mask_gru_noreset_seq": _masked_rnn("gru", True, reset_after=False),
    "mask_gru_noreset_last": _masked_rnn("gru", False, reset_after=False),
    "mask_simple_rnn_seq": _masked_rnn("simple_rnn", True),
    "mask_simple_rnn_last": _masked_rnn("simple_rnn", False),
    "mask_zero_out_lstm_seq": _masked_rnn("lstm", True, zero_output_for_mask=True),
    "mask_zero_out_lstm_last": _masked_rnn("lstm", False, zero_output_for_mask=True),
    "mask_zero_out_gru_seq": _masked_rnn("gru", True, zero_output_for_mask=True),
    "mask_zero_out_gru_last": _masked_rnn("gru", False, zero_output_for_mask=True),
    "mask_lstm_go_backwards_seq": _masked_rnn("lstm", True, go_backwards=True),
    "mask_lstm_go_backwards_last": _masked_rnn("lstm", False, go_backwards=True),
    "mask_gru_go_backwards_seq": _masked_rnn("gru", True, go_backwards=True),
    "mask_simple_rnn_go_backwards_last": _masked_rnn("simple_rnn", False, go_backwards=True),
    "mask_value_neg1_lstm": _masked_rnn("lstm", True, value=-1.0),
    "mask_full_row_lstm_last": _masked_rnn("lstm", False, fully_masked_row=3),
    "mask_full_row_lstm_seq": _masked_rnn("lstm", True, fully_masked_row=3),
    "mask_full_row_gru_last": _masked_rnn("gru", False, fully_masked_row=3),
    "mask_full_row_zero_out_lstm_last": _masked_rnn(
        "lstm", False, fully_masked_row=3, zero_output_for_mask=True),
    "mask_stacked": build_mask_stacked,
    "mask_lstm_td_dense": build_mask_lstm_td_dense,
    # --- Embedding ----------------------------------------------------------
    "embedding_mask_lstm": _embedding_case("lstm", mask_zero=True),
    "embedding_mask_lstm_seq": _embedding_case("lstm", mask_zero=True, return_sequences=True),
    "embedding_gru": _embedding_case("gru", mask_zero=False),
    # --- Bidirectional ------------------------------------------------------
    "bidir_lstm_concat": _bidir_lstm("concat"),
    "bidir_lstm_sum": _bidir_lstm("sum"),
    "bidir_lstm_mul": _bidir_lstm("mul"),
    "bidir_lstm_ave": _bidir_lstm("ave"),
    "bidir_lstm_seq": _bidir_lstm("concat", return_sequences=True),
    "bidir_gru_seq_mask": build_bidir_gru_seq_mask,
    "bidir_simple_rnn_mask": build_bidir_simple_rnn_mask,
    "bidir_custom_backward": build_bidir_custom_backward,
    # --- TimeDistributed ----------------------------------------------------
    "td_dense": build_td_dense,
    "td_lstm": build_td_lstm,
    # --- Dense & shape / no-op layers ---------------------------------------
    "dense_stack": build_dense_stack,
    "dense_3d": build_dense_3d,
    "activation_layer": build_activation_layer,
    "flatten": build_flatten,
    "reshape": build_reshape,
    "repeat_vector": build_repeat_vector,
    "permute": build_permute,
    "noise_layers": build_noise_layers,
    # --- functional ---------------------------------------------------------
    "functional_chain": build_functional_chain,
    # --- stateful -----------------------------------------------------------
    "stateful_lstm": _stateful("lstm"),
    "stateful_gru": _stateful("gru"),
    # --- functional graphs, merges, nested models, return_state (issue 7) --
    "encdec_lstm_state": build_encdec_lstm_state,
    "gru_state_outputs": build_gru_state_outputs,
    "two_input_concat": build_two_input_concat,
    "shared_merges": build_shared_merges,
    "merge_ranks": build_merge_ranks,
    # --- 2-D / 3-D layers (issue 17) ------------------------------------------
    "conv2d_options": build_conv2d_options,
    "depthwise_separable2d": build_depthwise_separable2d,
    "conv3d": build_conv3d,
    "pooling_nd": build_pooling_nd,
    "reshaping_nd": build_reshaping_nd,
    "crnn": build_crnn,
    "td_conv_lstm": build_td_conv_lstm,
    "inert_nd": build_inert_nd,
    "conv_lstm": build_conv_lstm,
    "conv_transpose": build_conv_transpose,
    "einsum_dense": build_einsum_dense,
    "adaptive_pooling": build_adaptive_pooling,
    "discretize_encode": build_discretize_encode,
    "op_activations": build_op_activations,
    "sequential_return_state": build_sequential_return_state,
    "dense_softmax_wide": build_dense_softmax_wide,
    "norm_preprocess": build_norm_preprocess,
    "rms_norm": build_rms_norm,
    "thresholded_relu": build_thresholded_relu,
    "batchnorm_axes": build_batchnorm_axes,
    "dot_seq": build_dot_seq,
    "nested_sequential": build_nested_sequential,
    "bidir_none_state": build_bidir_none_state,
    "bidir_gru_state_mask": build_bidir_gru_state_mask,
    "rnn_cells": build_rnn_cells,
    "stacked_cells": build_stacked_cells,
    "conv_bilstm_attention": build_conv_bilstm_attention,
    "masked_gap": build_masked_gap,
    "conv1d_options": build_conv1d_options,
    "pooling_shapes": build_pooling_shapes,
    "normalization": build_normalization,
    "layernorm_rms": build_layernorm_rms,
    "attention_masked": build_attention_masked,
    "mha": build_mha,
    "mha_masked": build_mha_masked,
    "activation_layers": build_activation_layers,
}

for _a in ACTIVATIONS:
    CASES[f"act_{_a}"] = _act_case(_a)
for _a in GATE_ACTIVATIONS:
    CASES[f"act_lstm_rec_{_a}"] = _lstm_recact_case(_a)

EXTREME = {
    f"{base}_extreme": (base, EXTREME_SCALE)
    for base in ["lstm_basic", "lstm_hard_sigmoid", "gru_basic", "gru_noreset",
                 "gru_hard_sigmoid", "gru_noreset_hard_sigmoid",
                 "simple_rnn_basic", "bidir_lstm_concat"]
}
for _name, (_base, _scale) in EXTREME.items():
    CASES[_name] = _extreme(CASES[_base], _scale)

STATEFUL = {"stateful_lstm", "stateful_gru"}

# Keras 2.2.4-style files synthesized from the tf_keras .h5 (make_fixtures.py).
K22_CASES = {
    "lstm_basic", "lstm_hard_sigmoid", "gru_noreset", "gru_noreset_hard_sigmoid",
    "simple_rnn_basic", "bidir_lstm_concat", "embedding_mask_lstm", "dense_stack",
}

_K22_REASON = ("k22 (synthesized Keras 2.2.4 .h5) is only made for: "
               + ", ".join(sorted(K22_CASES)))

SKIP: dict = {
    "layernorm_rms": {"tfk": "tf_keras LayerNormalization has no rms_scaling option (Keras 3 only)"},
    "batchnorm_axes": {"k3": "Keras 3 BatchNormalization takes one int axis (tf_keras only)"},
    "rms_norm": {"tfk": "tf_keras has no RMSNormalization (Keras 3 only)"},
    "adaptive_pooling": {"tfk": "tf_keras has no adaptive pooling layers (Keras 3 only)"},
    "sequential_return_state": {"tfk": "tf_keras refuses a Sequential whose layer has several outputs"},
    "op_activations": {"tfk": "tf_keras records activation calls as TFOpLambda (code; refused as unsafe)"},
    "thresholded_relu": {"k3": "Keras 3 has no ThresholdedReLU (tf_keras only)"},
}
for _a in sorted(TFK_MISSING_ACTIVATIONS):
    SKIP.setdefault(f"act_{_a}", {})["tfk"] = (
        f"tf_keras 2.21 has no activation '{_a}' (Keras 3 only)")

# ----------------------------------------------------------------------------
# descriptions and notes
# ----------------------------------------------------------------------------

_DESC = {
    "lstm_basic": "LSTM(4) on (6,3), return_sequences=False",
    "lstm_seq_dense": "LSTM(5, return_sequences=True) -> Dense(3) applied to the 3-D sequence",
    "lstm_go_backwards_seq": "LSTM(4, go_backwards=True, return_sequences=True): output is time-reversed",
    "lstm_go_backwards": "LSTM(4, go_backwards=True), last output (= after consuming x[:,0])",
    "lstm_no_bias": "LSTM(4, use_bias=False): two weight arrays only",
    "lstm_activation_relu": "LSTM(4, activation='relu')",
    "lstm_activation_sigmoid_rec_tanh": "LSTM(4, activation='sigmoid', recurrent_activation='tanh')",
    "lstm_hard_sigmoid": "LSTM(4, recurrent_activation='hard_sigmoid'): formula differs by writer",
    "lstm_dropout_unroll": "LSTM(4, dropout=0.3, recurrent_dropout=0.2, unroll=True): all inert at inference",
    "stacked_lstm_gru_rnn": "LSTM(6,seq) -> GRU(5,seq) -> SimpleRNN(4)",
    "gru_basic": "GRU(4, reset_after=True)",
    "gru_seq": "GRU(5, reset_after=True, return_sequences=True) -> Dense(3)",
    "gru_go_backwards": "GRU(4, reset_after=True, go_backwards=True, return_sequences=True)",
    "gru_no_bias": "GRU(4, reset_after=True, use_bias=False)",
    "gru_hard_sigmoid": "GRU(4, reset_after=True, recurrent_activation='hard_sigmoid')",
    "gru_noreset": "GRU(4, reset_after=False): bias (3u,)",
    "gru_noreset_go_backwards": "GRU(4, reset_after=False, go_backwards=True, return_sequences=True)",
    "gru_noreset_no_bias": "GRU(4, reset_after=False, use_bias=False)",
    "gru_noreset_hard_sigmoid": "GRU(4, reset_after=False, recurrent_activation='hard_sigmoid') (Keras 2.2.4 defaults)",
    "simple_rnn_basic": "SimpleRNN(5)",
    "simple_rnn_seq": "SimpleRNN(5, return_sequences=True)",
    "simple_rnn_go_backwards": "SimpleRNN(4, go_backwards=True, return_sequences=True)",
    "simple_rnn_no_bias": "SimpleRNN(4, use_bias=False)",
    "mask_stacked": "Masking -> LSTM(5, seq) -> GRU(4): mask propagates through the first RNN",
    "mask_lstm_td_dense": "Masking -> LSTM(4, seq) -> TimeDistributed(Dense(3))",
    "embedding_mask_lstm": "Embedding(10,4,mask_zero=True) -> LSTM(5); token 0 pre/post/middle",
    "embedding_mask_lstm_seq": "Embedding(10,4,mask_zero=True) -> LSTM(5, seq) -> Dense(3)",
    "embedding_gru": "Embedding(10,4) (no mask) -> GRU(5); zeros are ordinary tokens",
    "bidir_lstm_concat": "Bidirectional(LSTM(4)), merge_mode='concat'",
    "bidir_lstm_sum": "Bidirectional(LSTM(4)), merge_mode='sum'",
    "bidir_lstm_mul": "Bidirectional(LSTM(4)), merge_mode='mul'",
    "bidir_lstm_ave": "Bidirectional(LSTM(4)), merge_mode='ave'",
    "bidir_lstm_seq": "Bidirectional(LSTM(4, return_sequences=True)), concat",
    "bidir_gru_seq_mask": "Masking -> Bidirectional(GRU(4, return_sequences=True))",
    "bidir_simple_rnn_mask": "Masking -> Bidirectional(SimpleRNN(4)), return_sequences=False",
    "bidir_custom_backward": "Bidirectional(LSTM(4, seq), backward_layer=GRU(3, seq, go_backwards=True)): output width 7",
    "td_dense": "LSTM(5, seq) -> TimeDistributed(Dense(3, tanh))",
    "td_lstm": "TimeDistributed(LSTM(4)) on input (batch, 3, 5, 4)",
    "dense_stack": "Dense(5,relu) -> Dense(4,tanh) -> Dense(3,softmax) on 2-D input (6,)",
    "dense_3d": "Dense(6,sigmoid) -> Dense(4,elu) -> Dense(3,selu) -> Dense(2) on 3-D input",
    "activation_layer": "LSTM(4,seq) -> Activation(relu) -> Dense(3) -> Activation(softmax)",
    "flatten": "LSTM(4,seq) -> Flatten -> Dense(3)",
    "reshape": "LSTM(4,seq) on (6,3) -> Reshape((3,8)) -> LSTM(3)",
    "repeat_vector": "LSTM(4) -> RepeatVector(3) -> LSTM(3, seq)",
    "permute": "Permute((2,1)) on (5,3) -> LSTM(4) over 3 steps",
    "noise_layers": "Dropout, SpatialDropout1D, GaussianNoise, GaussianDropout, AlphaDropout around LSTM/GRU: identity at inference",
    "functional_chain": "functional Model: Input(name=seq_in) -> LSTM(5, name=encoder) -> Dense(3, sigmoid, name=head)",
    "stateful_lstm": "LSTM(4, stateful=True, seq) -> Dense(3), batch 4 fixed; three consecutive predicts, no reset",
    "stateful_gru": "GRU(4, stateful=True, seq) -> Dense(3), batch 4 fixed; three consecutive predicts, no reset",
}


def description(name: str) -> str:
    if name in EXTREME:
        base, scale = EXTREME[name]
        return f"{description(base)}; x scaled by {scale:g} (saturating inputs, same weights as {base})"
    if name in _DESC:
        return _DESC[name]
    if name.startswith("act_lstm_rec_"):
        a = name[len("act_lstm_rec_"):]
        return f"LSTM(4, recurrent_activation='{a}')"
    if name.startswith("act_"):
        a = name[len("act_"):]
        return f"SimpleRNN(4, activation='{a}') -> Dense(3, activation='{a}')"
    desc = getattr(CASES[name], "desc", None)
    if desc:
        return desc
    raise KeyError(name)


DESCRIPTIONS = {name: description(name) for name in CASES}

_HSIG = ("hard_sigmoid differs by writer: Keras 3 = clip(x/6 + 0.5, 0, 1) "
         "(relu6(x+3)/6); tf_keras and Keras <= 2.x = clip(0.2*x + 0.5, 0, 1). "
         "Weights and x are identical across writers, so y differs.")
NOTES: dict = {}
for _n in CASES:
    notes = []
    if "hard_sigmoid" in _n or _n in ("act_hard_silu", "act_hard_swish"):
        notes.append(_HSIG)
    if _n in ("act_hard_silu", "act_hard_swish"):
        notes.append("Keras 3 hard_silu(x) = x * relu6(x+3)/6; 'hard_swish' is an alias "
                     "and is serialized as 'hard_silu'.")
    if _n == "act_gelu":
        notes.append("gelu: both Keras 3 and tf_keras default to approximate=False "
                     "(exact 0.5*x*(1+erf(x/sqrt(2)))); the string carries no flag.")
    if _n in ("act_swish", "act_silu"):
        notes.append("Keras 3 serializes both 'swish' and 'silu' as 'silu'; tf_keras "
                     "serializes both as 'swish'. Same function x*sigmoid(x).")
    if _n == "act_leaky_relu":
        notes.append("leaky_relu string: negative slope 0.2 in both (Keras 3 "
                     "negative_slope=0.2, tf_keras = tf.nn.leaky_relu alpha=0.2).")
    if _n == "act_exponential":
        notes.append("recurrent_kernel drawn with sigma 0.1 (0.2 * N(0,0.5)) and x scaled "
                     "by 0.1 to keep the exp recurrence finite.")
    if _n in ("act_softmax", "act_log_softmax", "act_sparsemax"):
        notes.append("normalizes over the last axis (units) of the recurrent state.")
    if _n.startswith("mask_") and "zero_out" not in _n:
        notes.append("At a masked step the states keep their previous value and the "
                     "output repeats the previous output (zeros before the first "
                     "unmasked step); masks anywhere (pre/post/middle) count.")
    if _n.startswith("mask_") and "go_backwards" in _n:
        notes.append("go_backwards: output index t belongs to input step T-1-t, so the "
                     "post-padded row's FIRST outputs are zeros and the pre-padded row's "
                     "LAST outputs repeat the previous value.")
    if _n == "mask_lstm_td_dense":
        notes.append("TimeDistributed(Dense) is applied to the repeated (or zero) h at "
                     "masked steps: those outputs are Dense(h_prev), e.g. the bias where "
                     "h is still 0 -- not zeros.")
    if _n.startswith("embedding_mask"):
        notes.append("Embedding(mask_zero=True): token id 0 is a masked step.")
    if "zero_out" in _n and _n.endswith("_last"):
        notes.append("zero_output_for_mask=True with return_sequences=False: the output "
                     "is ZERO for rows whose last timestep is masked (post-padded and "
                     "fully-masked rows), not the last valid h.")
    if "full_row" in _n:
        notes.append("A fully masked row never updates its state: output stays the "
                     "initial zeros (LSTM/GRU/SimpleRNN start from h=0).")
    if _n.startswith("bidir") and _n.endswith(("_seq", "seq_mask")) or _n == "bidir_custom_backward":
        notes.append("Bidirectional forces zero_output_for_mask=return_sequences on "
                     "both inner layers (masked steps output 0 when a mask is present).")
    if _n in STATEFUL:
        notes.append("States persist across predict calls (no reset between x0, x1, x2); "
                     "they are NOT saved in the files, a fresh load starts from zeros. "
                     "Keras 3: layer.reset_state(); tf_keras: model.reset_states().")
    if _n == "lstm_dropout_unroll":
        notes.append("dropout/recurrent_dropout/unroll do not change predict output.")
    if notes:
        NOTES[_n] = notes


def writers_for(name: str):
    """{writer: None if produced else reason} for a case."""
    out = {}
    for w in WRITERS:
        if w == "k22":
            out[w] = None if name in K22_CASES else _K22_REASON
        else:
            out[w] = SKIP.get(name, {}).get(w)
    return out
