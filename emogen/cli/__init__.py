"""The command lines: one module per script, each with ``get_args_parser()``, ``main(argv)`` and ``cli()``.

The top-level scripts of the checkout (``inference.py``, ``train.py``, ...) and the console scripts that
``pip install -e .`` declares (``emogen-infer``, ``emogen-train``, ...) both call these.
"""
