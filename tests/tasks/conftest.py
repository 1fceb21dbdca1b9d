import pytest

from benchmark.config import DataConfig


@pytest.fixture
def data_cfg():
    """A run's data config at test size, with no synthetic languages of its own."""
    return DataConfig(languages=[], train_per_language=20, test_per_language=5, max_chars=24)
