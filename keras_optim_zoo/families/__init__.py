"""Family bases shared by several algorithms (each algorithm module holds only its own terms).

Dependencies point one way: optimizers -> families -> engine -> helpers.
"""
