# Triton's CPU interpreter must be chosen before any Triton kernel is defined, and another test module may
# import triton first: turn it on for the whole session unless the caller set TRITON_INTERPRET
# (e.g. TRITON_INTERPRET=0 on a GPU machine).
import os

os.environ.setdefault("TRITON_INTERPRET", "1")


import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread, restored after (opt in: ``pytest.mark.usefixtures``)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
