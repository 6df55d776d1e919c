"""Replaces ``rasa.utils.tensorflow.models.RasaModel._rasa_predict`` (wraps it), and with it
TensorFlow's ``tf.function`` argument matching for Rasa's prediction graphs.

Why: Rasa calls its traced TensorFlow prediction function (DIET, the ResponseSelector and
TED) like any ``tf.function``: each call first matches the Python arguments against the
function's signature and canonicalises every input (``_maybe_define_function``), which
profiled at 45 % of the TensorFlow call and 6 % of a Rasa server's request time.

What instead: Rasa gives that function a fixed input signature, so there is exactly one
traced graph: after the first (tracing) call, inputs are converted to the signature's dtypes
and the graph is called directly, as TensorFlow itself does after matching
(``concrete._call_flat``). Inputs that do not fit the signature go to Rasa's call (which
raises TensorFlow's own error).
"""
from __future__ import annotations

from typing import Any

from rasa_server.patches import _common

REPLACES = ("rasa.utils.tensorflow.models.RasaModel._rasa_predict",)
_DIRECT_CALL_ATTRIBUTE = "_speedups_predict_call"
calls = 0  # predictions that took the direct path, in this process (tests check it)


def _direct_predict_call(model: Any) -> Any:
    """The traced prediction graph of ``model`` and its input specs, once traced."""
    found = model.__dict__.get(_DIRECT_CALL_ATTRIBUTE)
    if found is None:
        concrete = model._tf_predict_step.get_concrete_function()
        args, kwargs = concrete.structured_input_signature
        if kwargs or len(args) != 1 or not isinstance(args[0], (list, tuple)):
            found = False  # a signature Rasa does not build: keep Rasa's call
        else:
            found = (concrete, tuple(args[0]))
        model.__dict__[_DIRECT_CALL_ATTRIBUTE] = found
    return found


def install() -> bool:
    """Wraps ``RasaModel._rasa_predict``; idempotent. False when refused or not applicable."""
    if _common.version_refusal(__name__):
        return False
    unchanged = "TensorFlow called as before"
    try:
        import tensorflow as tf
        from rasa.utils.tensorflow import models
        from rasa.shared.constants import DIAGNOSTIC_DATA
        from rasa.utils.tensorflow.models import RasaModel
    except ImportError:
        return _common.internals_changed(unchanged)
    tf_utils = getattr(models, "tf_utils", None)
    if tf_utils is None or not hasattr(tf_utils, "sync_to_numpy_or_python_type"):
        return _common.internals_changed(unchanged)

    def direct(original: Any) -> Any:
        def _rasa_predict(self: Any, batch_in: Any) -> Any:
            global calls
            if not _common.on(__name__) or self._run_eagerly or self._tf_predict_step is None \
                    or not self.prepared_for_prediction:
                return original(self, batch_in)  # the first call traces the graph
            graph_call = _direct_predict_call(self)
            if not graph_call or len(batch_in) != len(graph_call[1]):
                return original(self, batch_in)
            concrete, specs = graph_call
            inputs = []
            for value, spec in zip(batch_in, specs):
                if not spec.shape.is_compatible_with(value.shape):
                    return original(self, batch_in)  # Rasa's call raises TensorFlow's own error
                inputs.append(tf.convert_to_tensor(value, spec.dtype))
            self._training = False
            outputs = tf_utils.sync_to_numpy_or_python_type(
                concrete._call_flat(inputs, captured_inputs=concrete.captured_inputs))
            if DIAGNOSTIC_DATA in outputs:
                outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
            calls += 1
            return outputs
        return _rasa_predict

    return _common.replace(RasaModel, "_rasa_predict", direct, unchanged)
