"""One torch thread per test: tiny models gain nothing from intra-op threads and lose a
lot when the two cores are shared. Import the fixture into a conftest to use it."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
