"""Mutation fuzzing of the sans-IO layer (in process) and of the server (over sockets).

:mod:`.seeds` holds valid inputs, :mod:`.mutate` derives inputs from them, :mod:`.oracles`
judges an input, :mod:`.corpus` saves the failing ones and :mod:`.replay` runs them again.
"""
