"""Importable library code behind the EmoGen command-line scripts, in layers that import downwards only:
``apps`` (demo, web page) over the stages ``inference``, ``training`` and ``data`` over the networks
(``models``, ``face_detection``) over ``common`` (errors, files, devices, media, checkpoint I/O, weight files
and the shared contract). README "Where things live" has the map."""
