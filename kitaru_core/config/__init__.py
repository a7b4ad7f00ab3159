"""Kitaru configuration: paths, ``kitaru.yaml``, ``KITARU_*`` variables, ``[tool.kitaru]`` and
the precedence resolver. Kept import-light: nothing here imports ZenML."""
