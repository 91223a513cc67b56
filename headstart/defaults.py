"""The one home of the product's defaults, named once and used by the CLI, the estimator, the library
calls, head training and the lab's configurations (`tests/test_defaults.py` keeps their literals here).
Imports nothing: any module may use it."""

DEFAULT_MODEL = "efficientnet-lite0"  # the source model when none is named
DEFAULT_METHOD = "headstart"  # the head initialisation method when none is named
HEAD_EPOCHS = 100  # full-batch head-training epochs
LEARNING_RATE = 1e-3  # Adam's learning rate in head training
MIN_RESOLUTION, MAX_RESOLUTION = 16, 1024  # input sizes in pixels that a model may be run at
