"""The engine's version, stamped on every result so a stored quote says which arithmetic made it.

Bump the major version whenever the same pricing file would give a different figure.
"""

ENGINE_VERSION = "2.0.0"  # 2: the risk simulation covers every line of business, and the program
