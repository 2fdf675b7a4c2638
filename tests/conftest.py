# Triton's CPU interpreter must be chosen before any Triton kernel is defined, and another test module may
# import triton first: turn it on for the whole session unless the caller set TRITON_INTERPRET
# (e.g. TRITON_INTERPRET=0 on a GPU machine).
import os

os.environ.setdefault("TRITON_INTERPRET", "1")
