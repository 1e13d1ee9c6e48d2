from shop.cart import Cart


def test_empty_cart():
    assert Cart().total() == 0


def test_cart_total_has_tax():
    c = Cart()
    c.add("tea", 400)
    c.add("cake", 600)
    assert c.total() == 1080
