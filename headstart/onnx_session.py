"""ONNX Runtime CPU sessions of models headstart exported into its cache, without torch: a model is
used only when ONNX Runtime loads it and its metadata names the exact key it was made for."""

from __future__ import annotations

KEY_PROP = "headstart_key"  # the metadata_props entry naming what a cached model was made from


class ExportFailed(Exception):
    """The model could not be exported or loaded; the message says why."""


def session(data: bytes, key: str, threads: int):
    """An ONNX Runtime CPU session of `data`, after checking its metadata names `key`; ExportFailed
    for a file that does not load or belongs to another model."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # Idle pool threads that spin steal the cores decoding workers need between batches.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: its notes on unused initializers are noise here
    try:
        loaded = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # a torn or foreign protobuf: onnxruntime's own exception types
        raise ExportFailed(f"it does not load ({str(error).splitlines()[0][:120]})") from None
    if loaded.get_modelmeta().custom_metadata_map.get(KEY_PROP) != key:
        raise ExportFailed("it was made from another model")
    return loaded
