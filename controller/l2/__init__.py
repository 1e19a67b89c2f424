"""The L2 learning switch's pure logic (apps/l2_learning.py is its adapter)."""
