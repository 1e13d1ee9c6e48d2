import pytest
from shop.pricing import discounted, with_tax


def test_with_tax():
    assert with_tax(1000) == 1080


@pytest.mark.parametrize(("percent", "want"), [(0, 1000), (25, 750), (100, 0)])
def test_discounted(percent, want):
    assert discounted(1000, percent) == want


def test_discount_out_of_range():
    with pytest.raises(ValueError):
        discounted(1000, 120)
